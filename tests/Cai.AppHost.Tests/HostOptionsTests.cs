using Cai.AppHost;
using Microsoft.Extensions.Configuration;

namespace Cai.AppHost.Tests;

public class HostOptionsTests
{
    private static CaiHostOptions Load(params (string Key, string? Value)[] settings) =>
        CaiHostOptions.Load(
            new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build(),
            contentRoot: "/tmp/cai-host-options");

    [Fact]
    public void A_valid_configuration_resolves_paths_and_defaults()
    {
        var options = Load(("Cai:ArtifactsRoot", "runs"), ("Cai:BaseModel", "../models/default"),
            ("Cai:Services:generation:Replicas", "2"), ("Cai:Services:generation:Gpus", "0,1"));
        Assert.Equal("/tmp/cai-host-options/runs", options.ArtifactsRoot);
        Assert.Equal("/tmp/models/default", options.BaseModel);
        Assert.Equal(2, options.Services["generation"].Replicas);
        Assert.Equal([0, 1], options.Services["generation"].Gpus);
        Assert.Equal(1, options.Services["ppo"].Replicas);
        Assert.Equal("auto", options.RedisMode);
    }

    [Fact]
    public void An_unknown_service_in_gpu_pinning_is_named()
    {
        var ex = Assert.Throws<HostConfigurationException>(() => Load(("Cai:ArtifactsRoot", "runs"), ("Cai:Services:genration:Gpus", "0")));
        Assert.Contains("Cai:Services:genration", ex.Message);
    }

    [Fact]
    public void A_negative_replica_count_is_named()
    {
        var ex = Assert.Throws<HostConfigurationException>(() => Load(("Cai:ArtifactsRoot", "runs"), ("Cai:Services:ppo:Replicas", "-1")));
        Assert.Contains("Cai:Services:ppo:Replicas", ex.Message);
    }

    [Fact]
    public void A_missing_artifacts_root_is_named()
    {
        var ex = Assert.Throws<HostConfigurationException>(() => Load(("Cai:Services:ppo:Replicas", "1")));
        Assert.Contains("Cai:ArtifactsRoot", ex.Message);
    }

    [Fact]
    public void A_bad_gpu_id_and_redis_mode_are_both_reported()
    {
        var ex = Assert.Throws<HostConfigurationException>(() =>
            Load(("Cai:ArtifactsRoot", "runs"), ("Cai:Services:sft:Gpus", "0,x"), ("Cai:Redis:Mode", "cloud")));
        Assert.Contains("Cai:Services:sft:Gpus", ex.Message);
        Assert.Contains("Cai:Redis:Mode", ex.Message);
    }

    [Theory]
    [InlineData(1, "0,1,2,3", "0,1,2,3")]
    [InlineData(2, "0,1,2,3", "0,1|2,3")]
    [InlineData(4, "0,1", "0|1|0|1")]
    [InlineData(3, "5,6,7", "5|6|7")]
    public void Gpu_pinning_gives_each_replica_its_devices(int replicas, string gpus, string expected)
    {
        var plan = GpuPinning.Plan("generation", replicas, gpus.Split(',').Select(int.Parse).ToArray());
        Assert.Equal(expected, string.Join('|', plan.Select(p => p.CudaVisibleDevices)));
        Assert.Equal("generation", plan[0].ResourceName);
        Assert.Equal(replicas, plan.Select(p => p.ResourceName).Distinct().Count());
    }
}
