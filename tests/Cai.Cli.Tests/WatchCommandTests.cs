using System.Collections.Concurrent;
using System.Diagnostics;
using Cai.Pipeline;
using Cai.Services.Orchestrator.Grpc;
using Cai.Services.Orchestrator.Runs;
using Cai.Streams;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Cai.Cli.Tests;

/// <summary>Remembers the API key header of each WatchRun call, to show the client sends it.</summary>
internal sealed class ApiKeyRecorder : Interceptor
{
    public static readonly ConcurrentDictionary<string, string> Keys = new();

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (request is Cai.Protos.V1.WatchRunRequest watch && context.RequestHeaders.GetValue("x-api-key") is { } key) Keys[watch.RunId] = key;
        return continuation(request, responseStream, context);
    }
}

/// <summary>
/// The real orchestrator service (no automatic run) on a loopback port, over a real redis-server that the fixture
/// starts; the tests write run states into Redis as a running pipeline would.
/// </summary>
public sealed class OrchestratorFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cai-watch-tests-" + Guid.NewGuid().ToString("N")[..8]);
    private RedisServerProcess _redis = null!;
    private ConnectionMultiplexer _connection = null!;

    internal KestrelService Service { get; private set; } = null!;

    /// <summary>The store the orchestrator reads.</summary>
    public RedisRunStateStore Store => new(_connection.GetDatabase());

    public async Task InitializeAsync()
    {
        _redis = await RedisServerProcess.StartAsync(Path.Combine(_dir, "redis"));
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var options = new OrchestratorOptions { ArtifactsRoot = Path.Combine(_dir, "runs"), RepositoryRoot = Cai.Testing.RepositoryRoot.Path, PollInterval = TimeSpan.FromMilliseconds(50) };
        Service = await KestrelService.StartAsync(b =>
        {
            b.Services.AddSingleton(options);
            b.Services.AddSingleton<RunManager>();
            b.Services.AddHostedService(sp => sp.GetRequiredService<RunManager>());
            b.Services.AddGrpc(o => o.Interceptors.Add<ApiKeyRecorder>());
        }, a => a.MapGrpcService<OrchestratorService>(), new Dictionary<string, string?> { ["ConnectionStrings:redis"] = _redis.ConnectionString });
    }

    /// <summary>Saves a run's state as the pipeline does.</summary>
    public async Task SaveAsync(string runId, RunStatus status, string? message = null, params StageState[] stages)
    {
        var state = CaiRun.InitialState(runId);
        foreach (var stage in stages) state = state.With(stage);
        state = state with { Status = status, Message = message, ReportPath = status == RunStatus.Done ? $"/runs/{runId}/report/report.md" : null };
        await Store.SaveAsync(state, default);
        await Store.SetRunDirAsync(runId, "/runs/" + runId);
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        _connection.Dispose();
        await _redis.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

[Collection(HostedServicesCollection.Name)]
public sealed class WatchCommandTests(OrchestratorFixture orchestrator) : IClassFixture<OrchestratorFixture>
{
    private Task<Cli.Result> Watch(params string[] extra) => Cli.RunAsync(["watch", "--endpoint", orchestrator.Service.Endpoint, .. extra]);

    /// <summary>A run that goes from pending to running to done while it is watched.</summary>
    private async Task<Cli.Result> WatchProgressingRun(string runId, params string[] extra)
    {
        await orchestrator.SaveAsync(runId, RunStatus.Pending);
        var watch = Watch([runId, .. extra]);
        await Task.Delay(700);
        await orchestrator.SaveAsync(runId, RunStatus.Running, null, new StageState("prompts", RunStatus.Done, 32, 32),
            new StageState("sl-cai", RunStatus.Running, 10, 32, Message: "critique and revision"));
        await Task.Delay(700);
        await orchestrator.SaveAsync(runId, RunStatus.Done, null, new StageState("prompts", RunStatus.Done, 32, 32), new StageState("sl-cai", RunStatus.Done, 32, 32));
        return await watch;
    }

    [Fact]
    public async Task ADoneRunExitsZeroWithEveryStageAndTheReport()
    {
        var result = await WatchProgressingRun("ok");
        Assert.True(result.Exit == 0, result.ToString());
        Assert.Contains("prompts", result.Output);
        Assert.Contains("sl-cai", result.Output);
        Assert.Contains("32/32", result.Output);
        Assert.Contains("Run ok done.", result.Output);
        Assert.Contains("report: /runs/ok/report/report.md", result.Output);
    }

    [Fact]
    public async Task JsonPrintsEachStateAsALine()
    {
        var result = await WatchProgressingRun("ok-json", "--json");
        Assert.True(result.Exit == 0, result.ToString());
        var lines = result.JsonLines();
        Assert.Equal(["pending", "running", "done"], lines.Select(l => l.GetProperty("status").GetString()));
        Assert.Equal("10", lines[1].GetProperty("stages")[1].GetProperty("itemsDone").GetString());
    }

    [Fact]
    public async Task AFailedRunExitsOneWithItsMessage()
    {
        await orchestrator.SaveAsync("bad", RunStatus.Failed, "stage sft failed: out of memory", new StageState("sft", RunStatus.Failed, 2, 4, Message: "out of memory"));
        var result = await Watch("bad");
        Assert.Equal(1, result.Exit);
        Assert.Contains("Run bad failed: stage sft failed: out of memory", result.Output);
    }

    [Fact]
    public async Task AnUnknownRunIsTheServersStatusInOneRedLine()
    {
        var result = await Watch("nope");
        Assert.Equal(1, result.Exit);
        Assert.Contains("NotFound: run_id: no run 'nope'", result.Output);
    }

    [Fact]
    public async Task TheDeadlineEndsAWatchThatWouldNeverFinish()
    {
        await orchestrator.SaveAsync("hang", RunStatus.Running, null, new StageState("ppo", RunStatus.Running, 1, 60));
        var clock = Stopwatch.StartNew();
        var result = await Watch("hang", "--deadline", "700ms");
        Assert.Equal(1, result.Exit);
        Assert.Contains("DeadlineExceeded", result.Output);
        Assert.Contains("(--deadline 700ms)", result.Output);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.6, 20);
    }

    [Fact]
    public async Task CancellingExitsTwo()
    {
        await orchestrator.SaveAsync("hang-cancel", RunStatus.Running, null, new StageState("ppo", RunStatus.Running, 1, 60));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();
        var result = await Cli.RunAsync(["watch", "--endpoint", orchestrator.Service.Endpoint, "hang-cancel", "--json"], cts.Token);
        Assert.True(result.Exit == 2, result.ToString());
        Assert.Contains("Cancelled.", result.Output);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.4, 20);
    }

    [Fact]
    public async Task TheApiKeyIsSentAsAHeaderAndNeverPrinted()
    {
        await orchestrator.SaveAsync("keyed", RunStatus.Done, null, new StageState("prompts", RunStatus.Done, 1, 1));
        var result = await Watch("keyed", "--api-key", "very-secret-42");
        Assert.True(result.Exit == 0, result.ToString());
        Assert.Equal("very-secret-42", ApiKeyRecorder.Keys["keyed"]);
        Assert.DoesNotContain("very-secret-42", result.Output + result.Help);
    }

    [Fact]
    public async Task AnUnreachableOrchestratorExitsThree()
    {
        var result = await Cli.RunAsync("watch", "--endpoint", $"http://127.0.0.1:{Cli.FreePort()}", "ok");
        Assert.Equal(3, result.Exit);
        Assert.Contains("Is the orchestrator service running at", result.Output);
    }
}
