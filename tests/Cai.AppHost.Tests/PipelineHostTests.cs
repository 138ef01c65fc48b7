using Cai.Protos.V1;
using Grpc.Core;

namespace Cai.AppHost.Tests;

/// <summary>Starts the real AppHost once for the class and talks to every service over gRPC.</summary>
public class PipelineHostTests(PipelineHostFixture host) : IClassFixture<PipelineHostFixture>
{
    private static DateTime Deadline => DateTime.UtcNow.AddSeconds(20);

    public static TheoryData<string> ServiceNames => new(PipelineHostFixture.Services);

    [Theory]
    [MemberData(nameof(ServiceNames))]
    public async Task Every_service_is_healthy_over_grpc_and_answers_Info(string service)
    {
        var channel = host.Channel(service);
        var health = new Grpc.Health.V1.Health.HealthClient(channel);
        var status = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: Deadline);
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, status.Status);

        ServiceInfo info = service switch
        {
            "generation" => await new Generation.GenerationClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            "critique" => await new Critique.CritiqueClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            "sft" => await new Sft.SftClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            "labeling" => await new Labeling.LabelingClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            "preference-model" => await new PreferenceModel.PreferenceModelClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            "ppo" => await new Ppo.PpoClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
            _ => await new Orchestrator.OrchestratorClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline),
        };
        Assert.Equal(service, info.Service);
        Assert.Contains("Info", info.LiveRpcs);
        Assert.True(info.ProcessId > 0);
        Assert.True(info.RedisConnected, $"{service} reports no Redis connection");
    }

    [Fact]
    public async Task One_item_crosses_Redis_from_the_orchestrator_to_every_stage_service_and_back()
    {
        var client = new Orchestrator.OrchestratorClient(host.Channel("orchestrator"));
        var result = await client.ProbeStreamsAsync(new ProbeStreamsRequest { TimeoutMs = 15_000 }, deadline: Deadline);

        Assert.Empty(result.Missing);
        Assert.Equal(
            ["critique", "generation", "labeling", "ppo", "preference-model", "sft"],
            result.Replies.Select(r => r.Service).Order());
        // Each service handled the item inside the trace the orchestrator started: one trace across services.
        Assert.False(string.IsNullOrEmpty(result.TraceId));
        Assert.All(result.Replies, r => Assert.Equal(result.TraceId, r.TraceId));
        Assert.All(result.Replies, r => Assert.True(r.ProcessId > 0));
    }

    [Fact]
    public async Task A_bad_probe_request_is_rejected_naming_the_field()
    {
        var client = new Orchestrator.OrchestratorClient(host.Channel("orchestrator"));
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.ProbeStreamsAsync(new ProbeStreamsRequest { TimeoutMs = -1 }, deadline: Deadline));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("timeout_ms", ex.Status.Detail);
    }

    [Theory]
    [InlineData("generation", "cai.v1.Generation")]
    [InlineData("ppo", "cai.v1.Ppo")]
    [InlineData("orchestrator", "cai.v1.Orchestrator")]
    public async Task Reflection_lists_the_service_so_grpcurl_works(string service, string grpcService)
    {
        var client = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(host.Channel(service));
        using var call = client.ServerReflectionInfo(deadline: Deadline);
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains(grpcService, names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task The_orchestrator_answers_for_runs_and_names_bad_input()
    {
        var client = new Orchestrator.OrchestratorClient(host.Channel("orchestrator"));
        var info = await client.InfoAsync(new InfoRequest(), deadline: Deadline);
        Assert.Contains("StartRun", info.LiveRpcs);
        Assert.Contains("WatchRun", info.LiveRpcs);
        // No main run in this AppHost (Cai:Profile=none): an unknown run is NOT_FOUND, a bad profile or key is named.
        var missing = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GetRunAsync(new GetRunRequest { RunId = "no-such-run" }, deadline: Deadline));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var badProfile = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.StartRunAsync(new StartRunRequest { RunId = "bad", Profile = "no-such-profile.json" }, deadline: Deadline));
        Assert.Equal(StatusCode.InvalidArgument, badProfile.StatusCode);
        Assert.Contains("no-such-profile.json", badProfile.Status.Detail);
        var badKey = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.StartRunAsync(new StartRunRequest { RunId = "bad", Profile = "smoke", Overrides = { ["Ppo:Iteration"] = "3" } }, deadline: Deadline));
        Assert.Equal(StatusCode.InvalidArgument, badKey.StatusCode);
        Assert.Contains("Ppo:Iteration", badKey.Status.Detail);
    }
}
