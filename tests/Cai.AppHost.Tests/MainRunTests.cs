using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Cai.Protos.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cai.AppHost.Tests;

/// <summary>
/// The README's main job on the smoke profile, through the real AppHost: the orchestrator starts the run by itself;
/// it is killed (SIGKILL) in the middle of SL-CAI and started again, and the run still completes with every item
/// exactly once.
/// </summary>
public sealed class MainRunTests : IAsyncLifetime
{
    private const string RunId = "main-test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "cai-mainrun-tests-" + Guid.NewGuid().ToString("N")[..8]);
    private DistributedApplication _app = null!;

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={_artifacts}", "Cai:Redis:Mode=executable", "Cai:Profile=smoke", $"Cai:RunId={RunId}"]);
        builder.Services.AddLogging(logging => logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));
        _app = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await _app.StartAsync(cts.Token);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("orchestrator", cts.Token);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        try { Directory.Delete(_artifacts, recursive: true); } catch (IOException) { }
    }

    private Orchestrator.OrchestratorClient Client(GrpcChannel channel) => new(channel);

    /// <summary>The run's state; null while the orchestrator has not created it yet (or is restarting).</summary>
    private static async Task<RunState?> TryGetAsync(Orchestrator.OrchestratorClient client)
    {
        try
        {
            return await client.GetRunAsync(new GetRunRequest { RunId = RunId }, deadline: DateTime.UtcNow + Deadline);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.NotFound or StatusCode.Unavailable or StatusCode.Internal or StatusCode.DeadlineExceeded)
        {
            return null;
        }
    }

    private async Task<RunState> WaitForAsync(Func<RunState, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        RunState? last = null;
        while (clock.Elapsed < timeout)
        {
            // A new channel each time: the orchestrator's port may change when it restarts.
            using var channel = GrpcChannel.ForAddress(_app.GetEndpoint("orchestrator", "grpc"));
            last = await TryGetAsync(Client(channel)) ?? last;
            if (last is not null && condition(last)) return last;
            if (last?.Status == "failed") throw new Xunit.Sdk.XunitException($"the run failed: {last.Message}");
            await Task.Delay(250);
        }
        throw new TimeoutException($"{what} did not happen within {timeout}; last state: {last}");
    }

    [Fact]
    public async Task The_main_job_survives_a_SIGKILL_of_the_orchestrator_and_completes_with_every_item_once()
    {
        // The orchestrator creates the run on its own; wait for SL-CAI to be under way.
        var midRun = await WaitForAsync(s => s.Stages.First(x => x.Name == "sl-cai").ItemsDone > 0, TimeSpan.FromMinutes(4), "SL-CAI progress");
        Assert.NotEqual("done", midRun.Stages.First(x => x.Name == "sl-cai").Status);

        int pid = await OrchestratorPidAsync();
        // SIGKILL to the orchestrator's process tree (DCP launches it through `dotnet run`): no shutdown code runs.
        Process.GetProcessById(pid).Kill(entireProcessTree: true);
        await _app.ResourceNotifications.WaitForResourceAsync("orchestrator", KnownResourceStates.TerminalStates).WaitAsync(TimeSpan.FromMinutes(1));
        var start = await _app.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync("orchestrator", KnownResourceCommands.StartCommand);
        Assert.True(start.Success, start.Message);

        var final = await WaitForAsync(s => s.Status == "done", TimeSpan.FromMinutes(8), "the end of the run");
        Assert.All(final.Stages, s => Assert.Equal("done", s.Status));
        string runDir = Path.Combine(_artifacts, RunId);
        Assert.Equal(runDir, final.RunDir);
        AssertEachIdOnce(Path.Combine(runDir, "prompts/prompts.jsonl"), "id", 64);
        AssertEachIdOnce(Path.Combine(runDir, "sl-cai/revisions.jsonl"), "promptId", 64);
        AssertEachIdOnce(Path.Combine(runDir, "pairs/pairs.jsonl"), "id", 32);
        AssertEachIdOnce(Path.Combine(runDir, "labels/comparisons.jsonl"), "id", 32);
        Assert.True(File.Exists(final.ReportPath), $"no report at '{final.ReportPath}'");
        Assert.True(final.Stages.First(s => s.Name == "sl-cai").Seconds > 0);
    }

    private static void AssertEachIdOnce(string path, string idField, int expected)
    {
        var ids = File.ReadAllLines(path).Where(l => l.Length > 0)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty(idField).GetString()).ToList();
        Assert.Equal(expected, ids.Count);
        Assert.Equal(expected, ids.Distinct().Count());
    }

    private async Task<int> OrchestratorPidAsync()
    {
        await foreach (var e in _app.ResourceNotifications.WatchAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
        {
            if (e.Resource.Name != "orchestrator") continue;
            var pid = e.Snapshot.Properties.FirstOrDefault(p => p.Name.EndsWith(".pid", StringComparison.Ordinal))?.Value;
            if (pid is not null && int.TryParse(pid.ToString(), out int id)) return id;
        }
        throw new InvalidOperationException("the orchestrator's process id is not in its resource snapshot");
    }
}
