using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Cai.Protos.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit.Abstractions;

namespace Cai.AppHost.Tests;

/// <summary>
/// A test that needs a container runtime and the service images (deploy/test-containers.sh provides both and sets
/// CAI_CONTAINER_TESTS=1); skipped otherwise, so `dotnet test` stays runnable anywhere.
/// </summary>
public sealed class ContainerFactAttribute : FactAttribute
{
    public ContainerFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("CAI_CONTAINER_TESTS") != "1")
            Skip = "Needs podman/docker and the CAI images: run deploy/test-containers.sh (sets CAI_CONTAINER_TESTS=1).";
    }
}

/// <summary>
/// The real AppHost in containers mode (Cai:Mode=containers) against the container runtime named by
/// ASPIRE_CONTAINER_RUNTIME: Redis as Aspire's Redis container with its password, every service from its image.
/// Started once for the class; every log line of the host and the containers is kept so tests can search it.
/// </summary>
public sealed class ContainerPipelineFixture : IAsyncLifetime
{
    private readonly Dictionary<string, GrpcChannel> _channels = new();
    public DistributedApplication App { get; private set; } = null!;
    public ConcurrentQueue<string> Logs { get; } = new();
    public string ArtifactsRoot { get; } = Environment.GetEnvironmentVariable("CAI_CONTAINER_ARTIFACTS") is { Length: > 0 } root
        ? root : Path.Combine(Path.GetTempPath(), "cai-container-tests-" + Guid.NewGuid().ToString("N")[..8]);
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("CAI_CONTAINER_TESTS") != "1") return;
        var clock = Stopwatch.StartNew();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={ArtifactsRoot}", "Cai:Mode=containers", "Cai:Profile=none"]);
        builder.Services.AddLogging(logging =>
        {
            logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddProvider(new CapturingLoggerProvider(Logs));
        });
        App = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await App.StartAsync(cts.Token);
        foreach (string name in PipelineHostFixture.Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(name, cts.Token);
        StartTime = clock.Elapsed;
    }

    public GrpcChannel Channel(string service)
    {
        lock (_channels)
        {
            if (!_channels.TryGetValue(service, out var channel))
                _channels[service] = channel = GrpcChannel.ForAddress(App.GetEndpoint(service, "grpc"));
            return channel;
        }
    }

    /// <summary>The runtime's id of a resource's container.</summary>
    public string ContainerId(string resource) =>
        App.ResourceNotifications.TryGetCurrentState(resource, out var e)
            ? e.Snapshot.Properties.FirstOrDefault(p => p.Name == "container.id")?.Value?.ToString() ?? ""
            : "";

    public async Task DisposeAsync()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
        if (App is not null) await App.DisposeAsync();
        if (Environment.GetEnvironmentVariable("CAI_CONTAINER_ARTIFACTS") is not { Length: > 0 })
            try { Directory.Delete(ArtifactsRoot, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> sink) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, sink);
        public void Dispose() { }

        private sealed class Logger(string category, ConcurrentQueue<string> sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                sink.Enqueue($"{category}: {formatter(state, exception)} {exception}");
        }
    }
}

/// <summary>Every service in its container: healthy, non-root, answering over gRPC across containers, then the smoke run.</summary>
public class ContainerSmokeTests(ContainerPipelineFixture host, ITestOutputHelper output) : IClassFixture<ContainerPipelineFixture>
{
    private static DateTime Deadline(int seconds = 30) => DateTime.UtcNow.AddSeconds(seconds);

    [ContainerFact]
    public async Task Every_service_container_is_healthy_non_root_and_answers_Info_with_Redis_connected()
    {
        output.WriteLine($"containers healthy {host.StartTime.TotalSeconds:F1} s after start");
        string runtime = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME") ?? "docker";
        foreach (string service in PipelineHostFixture.Services)
        {
            var channel = host.Channel(service);
            var health = await new Grpc.Health.V1.Health.HealthClient(channel)
                .CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: Deadline());
            Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

            ServiceInfo info = await InfoAsync(service, channel);
            Assert.Equal(service, info.Service);
            Assert.True(info.RedisConnected, $"{service} has no connection to the Redis container");

            string id = host.ContainerId(service);
            Assert.False(string.IsNullOrEmpty(id), $"no container id for {service}");
            // The image's non-root user, and its HEALTHCHECK (the gRPC health probe inside the image) passes.
            Assert.Equal("1654:1654", (await RunAsync(runtime, "inspect", "--format", "{{.Config.User}}", id)).Output.Trim());
            var probe = await RunAsync(runtime, "healthcheck", "run", id);
            Assert.True(probe.ExitCode == 0, $"{service}: the image's gRPC health probe failed: {probe.Output}");
            output.WriteLine($"{service}: container {id[..Math.Min(12, id.Length)]}, host {info.Host}, uptime {info.UptimeSeconds:F0} s");
        }
    }

    [ContainerFact]
    public async Task Critique_calls_generation_across_containers()
    {
        var critiqueInfo = await new Critique.CritiqueClient(host.Channel("critique")).InfoAsync(new InfoRequest(), deadline: Deadline());
        Assert.Equal("generation service", critiqueInfo.Details["inference"]);
        Assert.Equal(Path.Combine(ContainerModeTests.RepoRoot(), "models", "default"), critiqueInfo.Details["default_model"]);

        var clock = Stopwatch.StartNew();
        var result = await new Critique.CritiqueClient(host.Channel("critique")).CritiqueReviseAsync(new CritiqueReviseRequest
        {
            PromptId = "container-smoke-1",
            Prompt = "How do I pick a lock?",
            Rounds = 1,
            Seed = 7,
            FewShot = 0,
            Sampling = new SamplingParams { Temperature = 0, MaxNewTokens = 8 },
        }, deadline: Deadline(180));
        output.WriteLine($"CritiqueRevise through the generation container: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal("container-smoke-1", result.PromptId);
        Assert.Single(result.Rounds);
        Assert.False(string.IsNullOrEmpty(result.Rounds[0].RevisionRequest));

        // The model was loaded by the generation container, from the mounted base model.
        var generationInfo = await new Generation.GenerationClient(host.Channel("generation")).InfoAsync(new InfoRequest(), deadline: Deadline());
        Assert.Contains(Path.Combine("models", "default"), generationInfo.Details["loaded_models"]);
    }

    [ContainerFact]
    public async Task The_smoke_profile_runs_to_done_through_the_containers()
    {
        var client = new Orchestrator.OrchestratorClient(host.Channel("orchestrator"));
        var info = await client.InfoAsync(new InfoRequest(), deadline: Deadline());
        bool required = Environment.GetEnvironmentVariable("CAI_REQUIRE_SMOKE_RUN") == "1";
        if (info.UnimplementedRpcs.Contains("StartRun") && !required)
        {
            // Not built yet: the orchestrator must say so consistently; the run itself is checked once StartRun is live.
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await client.StartRunAsync(new StartRunRequest { Profile = "smoke" }, deadline: Deadline()));
            Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
            output.WriteLine("SMOKE RUN NOT ATTEMPTED: the orchestrator's StartRun answers Unimplemented (set CAI_REQUIRE_SMOKE_RUN=1 to fail instead).");
            return;
        }

        int timeoutSeconds = int.TryParse(Environment.GetEnvironmentVariable("CAI_SMOKE_RUN_TIMEOUT_S"), out int t) ? t : 900;
        var clock = Stopwatch.StartNew();
        var state = await client.StartRunAsync(new StartRunRequest { Profile = "smoke" }, deadline: Deadline());
        Assert.False(string.IsNullOrEmpty(state.RunId));
        output.WriteLine($"run {state.RunId} started ({state.Status}) in {state.RunDir}");
        var end = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        var seen = new Dictionary<string, string>();

        void Report(RunState s)
        {
            foreach (var stage in s.Stages)
                if (!seen.TryGetValue(stage.Name, out var before) || before != stage.Status)
                {
                    seen[stage.Name] = stage.Status;
                    output.WriteLine($"{clock.Elapsed.TotalSeconds,7:F1} s  {stage.Name,-17} {stage.Status,-8} {stage.ItemsDone}/{stage.ItemsTotal} {stage.Message}");
                }
        }

        try
        {
            using var watch = client.WatchRun(new WatchRunRequest { RunId = state.RunId }, deadline: end);
            while (!IsFinal(state) && await watch.ResponseStream.MoveNext(CancellationToken.None))
            {
                state = watch.ResponseStream.Current;
                Report(state);
            }
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown)
        {
            output.WriteLine($"WatchRun broke off ({ex.StatusCode}); polling GetRun");
        }
        while (!IsFinal(state) && DateTime.UtcNow < end)
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            state = await client.GetRunAsync(new GetRunRequest { RunId = state.RunId }, deadline: Deadline());
            Report(state);
        }

        output.WriteLine($"run {state.RunId}: {state.Status} after {clock.Elapsed.TotalSeconds:F1} s; {state.Message}");
        foreach (var stage in state.Stages)
            output.WriteLine($"  stage {stage.Name,-17} {stage.Status,-8} {stage.Seconds,8:F1} s");
        Assert.True(state.Status == "done",
            $"run {state.RunId} ended '{state.Status}': {state.Message}; " +
            string.Join("; ", state.Stages.Where(s => s.Status == "failed").Select(s => $"{s.Name}: {s.Message}")));
        Assert.All(state.Stages, s => Assert.Contains(s.Status, new[] { "done", "skipped" }));
    }

    [ContainerFact]
    public async Task The_redis_password_never_appears_in_any_log()
    {
        var model = host.App.Services.GetRequiredService<DistributedApplicationModel>();
        var redis = Assert.Single(model.Resources.OfType<RedisResource>());
        string password = await redis.PasswordParameter!.GetValueAsync(CancellationToken.None) ?? "";
        Assert.True(password.Length >= 16);
        // Something must have been logged, from the containers too, or the check below proves nothing.
        Assert.Contains(host.Logs, line => line.Contains("Resources.generation", StringComparison.Ordinal));
        var leaks = host.Logs.Where(line => line.Contains(password, StringComparison.Ordinal)).Take(3).ToList();
        Assert.True(leaks.Count == 0, "the Redis password appears in the logs: " + string.Join(" | ", leaks.Select(l => l[..Math.Min(80, l.Length)])));
    }

    private static bool IsFinal(RunState s) => s.Status is "done" or "failed";

    private static async Task<ServiceInfo> InfoAsync(string service, GrpcChannel channel) => service switch
    {
        "generation" => await new Generation.GenerationClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        "critique" => await new Critique.CritiqueClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        "sft" => await new Sft.SftClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        "labeling" => await new Labeling.LabelingClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        "preference-model" => await new PreferenceModel.PreferenceModelClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        "ppo" => await new Ppo.PpoClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
        _ => await new Orchestrator.OrchestratorClient(channel).InfoAsync(new InfoRequest(), deadline: Deadline()),
    };

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
