using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Cai.Inference;

/// <summary>
/// The hosted part of a stage's stream worker: decides which runs to serve and runs one consuming loop per run.
/// Runs come from configuration (a fixed list, e.g. <c>Critique:RunIds</c>) and, when <paramref name="watchActiveRuns"/>,
/// from the Redis set <see cref="ActiveRunsKey"/>, which the orchestrator fills when it starts a run: a replica
/// started before a run begins picks it up within <paramref name="refreshInterval"/>. A run removed from the set
/// keeps its loop until the process stops (its stream simply stays empty). Without Redis the service stays idle.
/// </summary>
public abstract class RunStreamWorkerService(
    Func<IConnectionMultiplexer?> redis, IReadOnlyList<string> runIds, bool watchActiveRuns, TimeSpan refreshInterval, ILogger logger)
    : BackgroundService
{
    /// <summary>The Redis set of run ids the stage workers serve.</summary>
    public const string ActiveRunsKey = "cai:runs:active";

    /// <summary>Run ids from configuration: a list (RunIds:0, RunIds:1) or one comma-separated value.</summary>
    public static IReadOnlyList<string> ParseRunIds(Microsoft.Extensions.Configuration.IConfigurationSection section) =>
        [.. (section.Value is { } single ? single.Split(',') : section.GetChildren().Select(c => c.Value ?? ""))
            .Select(s => s.Trim()).Where(s => s.Length > 0).Distinct()];

    private readonly Dictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// <summary>Why the worker cannot run at all (e.g. no model configured), or null; logged once, then the worker stays idle.</summary>
    protected virtual string? WhyIdle => null;

    /// <summary>The stage's consuming loop for one run, until <paramref name="cancellationToken"/> is cancelled.</summary>
    protected abstract Task ServeRunAsync(IDatabase db, string runId, CancellationToken cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (WhyIdle is { } reason)
        {
            logger.LogWarning("The stream worker stays idle: {Reason}", reason);
            return;
        }
        var multiplexer = redis();
        if (multiplexer is null)
        {
            logger.LogInformation("No Redis connection configured: the stream worker stays idle");
            return;
        }
        var db = multiplexer.GetDatabase();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wanted = new HashSet<string>(runIds, StringComparer.Ordinal);
                if (watchActiveRuns)
                {
                    try
                    {
                        foreach (var member in await db.SetMembersAsync(ActiveRunsKey).WaitAsync(stoppingToken).ConfigureAwait(false))
                            if (!member.IsNullOrEmpty) wanted.Add(member.ToString());
                    }
                    catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
                    {
                        logger.LogWarning(ex, "Could not read {Key}; retrying", ActiveRunsKey);
                    }
                }
                foreach (var runId in wanted.Where(r => !_running.ContainsKey(r)))
                {
                    logger.LogInformation("Serving run {RunId}", runId);
                    _running[runId] = ServeRunAsync(db, runId, stoppingToken);
                }
                foreach (var (runId, task) in _running.Where(r => r.Value.IsFaulted).ToList())
                {
                    logger.LogError(task.Exception, "The worker of run {RunId} failed; restarting it", runId);
                    _running.Remove(runId);
                }
                await Task.Delay(refreshInterval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        try
        {
            await Task.WhenAll(_running.Values).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
