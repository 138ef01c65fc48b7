using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.Configuration;

namespace Cai.AppHost.Tests;

/// <summary>
/// The containers mode of the AppHost (Cai:Mode=containers), checked on the application model without starting it:
/// no container runtime and no GPU needed.
/// </summary>
public class ContainerModeTests
{
    private static readonly string Artifacts = Path.Combine(Path.GetTempPath(), "cai-containermode-test");

    private static async Task<IDistributedApplicationTestingBuilder> ModelAsync(params string[] settings) =>
        await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={Artifacts}", "Cai:Mode=containers", .. settings]);

    private static Dictionary<string, ContainerResource> Services(IDistributedApplicationTestingBuilder builder) =>
        builder.Resources.OfType<ContainerResource>().Where(c => c is not RedisResource).ToDictionary(c => c.Name);

    [Fact]
    public async Task Every_service_runs_from_its_image_and_listens_on_all_interfaces_inside_its_container()
    {
        var builder = await ModelAsync();
        var services = Services(builder);
        string repo = RepoRoot();

        Assert.Empty(builder.Resources.OfType<ProjectResource>());
        Assert.Equal(PipelineHostFixture.Services.Order(), services.Keys.Order());
        foreach (var (name, container) in services)
        {
            var image = Assert.Single(container.Annotations.OfType<ContainerImageAnnotation>());
            Assert.Equal(("localhost", $"cai/{name}", "dev"), (image.Registry, image.Image, image.Tag));
            var env = await EnvAsync(container);
            Assert.Equal("0.0.0.0", env["Cai__BindAddress"]);
            Assert.Equal(name, env["Cai__ServiceName"]);
            Assert.Equal("8080", env["CAI_GRPC_PORT"]);
            Assert.Equal(Artifacts, env["Cai__ArtifactsRoot"]);
            Assert.Equal(Path.Combine(repo, "models", "default"), env["Cai__BaseModel"]);
            Assert.Equal(repo, env["Cai__RepositoryRoot"]);
            Assert.IsAssignableFrom<IValueProvider>(env["ConnectionStrings__redis"]);
            Assert.False(env.ContainsKey("CUDA_VISIBLE_DEVICES"));

            var endpoints = container.Annotations.OfType<EndpointAnnotation>().ToDictionary(e => e.Name, e => e.TargetPort);
            Assert.Equal(8080, endpoints["grpc"]);
            Assert.Equal(8081, endpoints["http"]);
            // Host folders appear at their own paths: the artifacts root writable, the repository (models) read-only.
            var mounts = container.Annotations.OfType<ContainerMountAnnotation>().ToDictionary(m => m.Target);
            Assert.All(mounts, m => Assert.Equal(m.Key, m.Value.Source));
            Assert.False(mounts[Artifacts].IsReadOnly);
            Assert.True(mounts[repo].IsReadOnly);
            Assert.DoesNotContain(mounts.Keys, k => k.StartsWith(Path.Combine(repo, "models"), StringComparison.Ordinal)); // inside the repository mount
            Assert.Empty(await ArgsAsync(container)); // no limits, no GPUs configured
        }
    }

    [Fact]
    public async Task Process_mode_stays_the_default()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={Artifacts}", "Cai:Redis:Mode=container"]);
        Assert.Equal(PipelineHostFixture.Services.Order(), builder.Resources.OfType<ProjectResource>().Select(p => p.Name).Order());
        Assert.Empty(Services(builder));
    }

    [Fact]
    public async Task Docker_gets_gpus_device_arguments_per_replica_and_the_cuda_image()
    {
        var builder = await ModelAsync(
            "Cai:Containers:GpuDevices=docker",
            "Cai:Services:generation:Replicas=2", "Cai:Services:generation:Gpus=0,1,2,3",
            "Cai:Services:ppo:Gpus=3");
        var services = Services(builder);

        Assert.Equal(["--gpus", "\"device=0,1\""], await ArgsAsync(services["generation"]));
        Assert.Equal(["--gpus", "\"device=2,3\""], await ArgsAsync(services["generation-1"]));
        Assert.Equal(["--gpus", "device=3"], await ArgsAsync(services["ppo"]));
        Assert.Empty(await ArgsAsync(services["critique"]));
        // Inside a container the runtime numbers the devices it was given from 0.
        Assert.Equal("0,1", (await EnvAsync(services["generation"]))["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("0,1", (await EnvAsync(services["generation-1"]))["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("0", (await EnvAsync(services["ppo"]))["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("dev-cuda", Image(services["generation-1"]).Tag);
        Assert.Equal("dev-cuda", Image(services["ppo"]).Tag);
        Assert.Equal("dev", Image(services["critique"]).Tag);
        Assert.Equal(8, services.Count);
    }

    [Fact]
    public async Task Podman_gets_cdi_device_arguments_and_shared_gpus_go_round_robin()
    {
        var builder = await ModelAsync(
            "Cai:Containers:GpuDevices=cdi",
            "Cai:Services:generation:Gpus=0,1",
            "Cai:Services:sft:Replicas=3", "Cai:Services:sft:Gpus=4,5");
        var services = Services(builder);

        Assert.Equal(["--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=1"], await ArgsAsync(services["generation"]));
        Assert.Equal(["--device", "nvidia.com/gpu=4"], await ArgsAsync(services["sft"]));
        Assert.Equal(["--device", "nvidia.com/gpu=5"], await ArgsAsync(services["sft-1"]));
        Assert.Equal(["--device", "nvidia.com/gpu=4"], await ArgsAsync(services["sft-2"]));
        Assert.Equal("0,1", (await EnvAsync(services["generation"]))["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("0", (await EnvAsync(services["sft-2"]))["CUDA_VISIBLE_DEVICES"]);
    }

    [Fact]
    public async Task Replicas_without_gpus_are_separate_containers_that_every_caller_knows()
    {
        var builder = await ModelAsync("Cai:Services:critique:Replicas=3");
        var services = Services(builder);

        Assert.Contains("critique-1", services.Keys);
        Assert.Contains("critique-2", services.Keys);
        Assert.DoesNotContain("critique-3", services.Keys);
        var orchestrator = await EnvAsync(services["orchestrator"]);
        foreach (string name in new[] { "critique", "critique-1", "critique-2" })
            Assert.True(orchestrator.ContainsKey($"services__{name}__grpc__0"), $"the orchestrator has no endpoint of {name}");
        Assert.True((await EnvAsync(services["critique-2"])).ContainsKey("services__generation__grpc__0"));
    }

    [Fact]
    public async Task Memory_and_cpu_limits_become_runtime_arguments_of_every_replica()
    {
        var builder = await ModelAsync(
            "Cai:Services:generation:Memory=4g", "Cai:Services:generation:Cpus=1.5",
            "Cai:Services:labeling:Replicas=2", "Cai:Services:labeling:Memory=512m",
            "Cai:Containers:User=1000:1000");
        var services = Services(builder);

        Assert.Equal(["--memory", "4g", "--cpus", "1.5", "--user", "1000:1000"], await ArgsAsync(services["generation"]));
        Assert.Equal(["--memory", "512m", "--user", "1000:1000"], await ArgsAsync(services["labeling-1"]));
        Assert.Equal(["--user", "1000:1000"], await ArgsAsync(services["orchestrator"]));
    }

    [Theory]
    [InlineData("Cai:Mode=swarm", "Cai:Mode")]
    [InlineData("Cai:Services:generation:Memory=lots", "Cai:Services:generation:Memory")]
    [InlineData("Cai:Services:ppo:Cpus=0", "Cai:Services:ppo:Cpus")]
    [InlineData("Cai:Containers:GpuDevices=magic", "Cai:Containers:GpuDevices")]
    [InlineData("Cai:Containers:User=0", "Cai:Containers:User")]
    public void A_bad_containers_setting_is_refused_naming_its_key(string setting, string key)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Cai:ArtifactsRoot"] = Artifacts,
                ["Cai:Mode"] = "containers",
                [setting.Split('=')[0]] = setting.Split('=')[1],
            }).Build();
        var ex = Assert.Throws<HostConfigurationException>(() => CaiHostOptions.Load(config, Artifacts));
        Assert.Contains(key + " ", ex.Message);
    }

    [Fact]
    public async Task Redis_is_Aspires_container_with_a_secret_password_that_is_never_a_literal_argument_or_variable()
    {
        var builder = await ModelAsync();
        var redis = Assert.Single(builder.Resources.OfType<RedisResource>());
        var image = Image(redis);
        Assert.Equal(ImagesEnv()["REDIS_IMAGE"], $"{image.Registry}/{image.Image}:{image.Tag}");

        var password = redis.PasswordParameter;
        Assert.NotNull(password);
        Assert.True(password.Secret);
        string secret = await password.GetValueAsync(CancellationToken.None) ?? "";
        Assert.True(secret.Length >= 16, "the generated password is short");

        // The connection string every service gets carries the password parameter, not a copy of its value.
        var connection = Assert.IsType<ConnectionStringReference>((await EnvAsync(Services(builder)["critique"]))["ConnectionStrings__redis"]);
        Assert.Contains(password, ((IValueWithReferences)connection.Resource.ConnectionStringExpression).References);

        foreach (var resource in builder.Resources.OfType<ContainerResource>())
        {
            foreach (var value in (await EnvAsync(resource)).Values.OfType<string>())
                Assert.DoesNotContain(secret, value);
            foreach (var arg in await ArgsAsync(resource))
                Assert.DoesNotContain(secret, arg);
            foreach (var arg in await CommandArgsAsync(resource))
                Assert.DoesNotContain(secret, arg);
        }
        Assert.Contains(await CommandArgsAsync(redis), a => a.Contains("$REDIS_PASSWORD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Containers_mode_wires_the_same_references_as_process_mode()
    {
        var processes = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={Artifacts}", "Cai:Redis:Mode=container"]);
        var containers = await ModelAsync();

        var expected = Graph(processes.Resources.OfType<ProjectResource>());
        var actual = Graph(Services(containers).Values);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (service, references) in expected)
            Assert.Equal(references, actual[service]);
        Assert.Contains("generation", expected["critique"]); // the graph is not trivially empty
        Assert.Contains("redis", expected["orchestrator"]);
        Assert.Contains("wait:redis", expected["generation"]);
    }

    /// <summary>Service -> the resources it references or waits for (sorted, comma-separated).</summary>
    private static Dictionary<string, string> Graph(IEnumerable<IResource> services) =>
        services.ToDictionary(s => s.Name, s => string.Join(",",
            s.Annotations.OfType<ResourceRelationshipAnnotation>().Where(r => r.Type is "Reference" or "WaitFor")
                .Select(r => $"{r.Type}:{r.Resource.Name}")
                .Concat(s.Annotations.OfType<WaitAnnotation>().Select(w => $"wait:{w.Resource.Name}"))
                .Distinct().Order()));

    private static ContainerImageAnnotation Image(IResource resource) =>
        Assert.Single(resource.Annotations.OfType<ContainerImageAnnotation>());

    /// <summary>deploy/images.env: the image names the scripts use.</summary>
    internal static Dictionary<string, string> ImagesEnv()
    {
        string path = Path.Combine(RepoRoot(), "deploy", "images.env");
        return File.ReadAllLines(path)
            .Where(l => l.Contains('=') && !l.TrimStart().StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim());
    }

    /// <summary>The repository root: above this source file (the build may put binaries anywhere).</summary>
    internal static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        foreach (string start in new[] { Path.GetDirectoryName(source) ?? "", AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CAI.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"CAI.sln not found above {source}");
    }

    /// <summary>Runs the resource's environment callbacks; values stay unresolved (endpoints are allocated only at start).</summary>
    private static async Task<Dictionary<string, object>> EnvAsync(IResource resource)
    {
        var environment = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(
            new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run), resource, environment, CancellationToken.None);
        foreach (var annotation in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
            await annotation.Callback(context);
        return environment;
    }

    /// <summary>The container runtime arguments (docker/podman run ...) of a container resource.</summary>
    private static async Task<List<string>> ArgsAsync(IResource resource)
    {
        var args = new List<object>();
        foreach (var annotation in resource.Annotations.OfType<ContainerRuntimeArgsCallbackAnnotation>())
            await annotation.Callback(new ContainerRuntimeArgsCallbackContext(args, CancellationToken.None));
        return [.. args.Select(a => a.ToString() ?? "")];
    }

    /// <summary>The container's command arguments, as far as they are literal.</summary>
    private static async Task<List<string>> CommandArgsAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args, resource, CancellationToken.None);
        foreach (var annotation in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
            await annotation.Callback(context);
        return [.. args.OfType<string>()];
    }
}
