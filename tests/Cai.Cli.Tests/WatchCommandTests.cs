using System.Collections.Concurrent;
using System.Diagnostics;
using Cai.Protos.V1;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cai.Cli.Tests;

/// <summary>
/// A stand-in orchestrator for the client tests of <c>cai watch</c>: it plays scripted RunState sequences by run id
/// (the real WatchRun lives in services/Orchestrator). It records the metadata of each call.
/// </summary>
internal sealed class ScriptedOrchestrator : Orchestrator.OrchestratorBase
{
    public static readonly ConcurrentDictionary<string, string> ApiKeys = new();

    private static StageState Stage(string name, string status, long done = 0, long total = 0, string message = "") =>
        new() { Name = name, Status = status, ItemsDone = done, ItemsTotal = total, Message = message, Seconds = done };

    private static RunState Run(string id, string status, string message, params StageState[] stages) =>
        new() { RunId = id, Status = status, Message = message, RunDir = "/runs/" + id, Stages = { stages } };

    public override async Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunState> responseStream, ServerCallContext context)
    {
        if (context.RequestHeaders.GetValue("x-api-key") is { } key) ApiKeys[request.RunId] = key;
        string id = request.RunId;
        switch (id)
        {
            case "ok":
                await responseStream.WriteAsync(Run(id, "pending", "", Stage("prompts", "pending"), Stage("sl-cai", "pending")));
                await responseStream.WriteAsync(Run(id, "running", "", Stage("prompts", "done", 32, 32), Stage("sl-cai", "running", 10, 32, "revising")));
                var done = Run(id, "done", "finished", Stage("prompts", "done", 32, 32), Stage("sl-cai", "done", 32, 32));
                done.ReportPath = "/runs/ok/report/report.md";
                await responseStream.WriteAsync(done);
                // A server that keeps the stream open after the final state: the client stops reading on its own.
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
            case "bad":
                await responseStream.WriteAsync(Run(id, "running", "", Stage("sft", "running", 1, 4)));
                await responseStream.WriteAsync(Run(id, "failed", "sft: out of memory", Stage("sft", "failed", 2, 4, "out of memory")));
                break;
            case "cut":
                await responseStream.WriteAsync(Run(id, "running", "", Stage("ppo", "running", 1, 60)));
                break;
            case "hang":
                await responseStream.WriteAsync(Run(id, "running", "", Stage("ppo", "running", 1, 60)));
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                break;
            default:
                throw new RpcException(new Status(StatusCode.NotFound, $"run_id: no run '{id}'"));
        }
    }
}

/// <summary>A scripted orchestrator on a loopback port, shared by the watch tests.</summary>
public sealed class OrchestratorFixture : IAsyncLifetime
{
    internal KestrelService Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await KestrelService.StartAsync(
        b => b.Services.AddSingleton<ScriptedOrchestrator>(), a => a.MapGrpcService<ScriptedOrchestrator>(), new Dictionary<string, string?>());

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

[Collection(HostedServicesCollection.Name)]
public sealed class WatchCommandTests(OrchestratorFixture orchestrator) : IClassFixture<OrchestratorFixture>
{
    private Task<Cli.Result> Watch(params string[] extra) => Cli.RunAsync(["watch", "--endpoint", orchestrator.Service.Endpoint, .. extra]);

    [Fact]
    public async Task ADoneRunExitsZeroWithEveryStageAndTheReport()
    {
        var result = await Watch("ok");
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
        var result = await Watch("ok", "--json");
        Assert.True(result.Exit == 0, result.ToString());
        var lines = result.JsonLines();
        Assert.Equal(["pending", "running", "done"], lines.Select(l => l.GetProperty("status").GetString()));
        Assert.Equal("10", lines[1].GetProperty("stages")[1].GetProperty("itemsDone").GetString());
    }

    [Fact]
    public async Task AFailedRunExitsOneWithItsMessage()
    {
        var result = await Watch("bad");
        Assert.Equal(1, result.Exit);
        Assert.Contains("Run bad failed: sft: out of memory", result.Output);
        Assert.Contains("failed", result.Output);
    }

    [Fact]
    public async Task AStreamThatEndsBeforeTheRunDoesIsAnError()
    {
        var result = await Watch("cut");
        Assert.Equal(1, result.Exit);
        Assert.Contains("before it finished (last status: running)", result.Output);
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
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();
        var result = await Cli.RunAsync(["watch", "--endpoint", orchestrator.Service.Endpoint, "hang", "--json"], cts.Token);
        Assert.True(result.Exit == 2, result.ToString());
        Assert.Contains("Cancelled.", result.Output);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.4, 20);
    }

    [Fact]
    public async Task TheApiKeyIsSentAsAHeaderAndNeverPrinted()
    {
        var result = await Watch("ok", "--api-key", "very-secret-42");
        Assert.True(result.Exit == 0, result.ToString());
        Assert.Equal("very-secret-42", ScriptedOrchestrator.ApiKeys["ok"]);
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
