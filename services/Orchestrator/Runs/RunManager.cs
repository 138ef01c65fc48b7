using System.Collections.Concurrent;
using Cai.Core.Configuration;
using Cai.Pipeline;
using Cai.Reporting;
using Cai.ServiceDefaults;

namespace Cai.Services.Orchestrator.Runs;

/// <summary>
/// The runs this orchestrator drives. A run is started once (<see cref="StartAsync"/>) and then driven in the
/// background by a <see cref="CaiRun"/> over the <see cref="ServiceExecutor"/>; its state lives in Redis
/// (<see cref="RedisRunStateStore"/>) and in the run folder's state.json. When the service starts it resumes every
/// unfinished run it finds in Redis, then starts (or resumes) the configured automatic run, the AppHost's main job.
/// </summary>
public sealed class RunManager(RedisConnection redis, IConfiguration configuration, OrchestratorOptions options, ILogger<RunManager> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<string, Task> _driving = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _starting = new(1, 1);
    private CancellationToken _stopping;

    private RedisRunStateStore Store => new(redis.Multiplexer.GetDatabase());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        if (!redis.IsConfigured)
        {
            logger.LogWarning("No Redis connection: runs cannot be started or resumed");
            return;
        }
        // Redis may still be starting: retry reading the runs for a while.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                foreach (string runId in await Store.RunIdsAsync())
                {
                    var state = await Store.LoadAsync(runId, stoppingToken);
                    if (state is { IsFinished: false } && await Store.GetRunDirAsync(runId) is { } dir && Directory.Exists(dir))
                    {
                        logger.LogInformation("Resuming run {RunId} from {Dir}", runId, dir);
                        Resume(runId, dir);
                    }
                }
                if (options.AutoRunProfile is not ("none" or ""))
                    await StartAsync(options.AutoRunIdOrDefault, options.AutoRunProfile, [], stoppingToken);
                return;
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException && attempt < 30)
            {
                logger.LogWarning("Redis is not reachable yet ({Message}); retrying", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Could not start the automatic run {RunId} ({Profile})", options.AutoRunIdOrDefault, options.AutoRunProfile);
                return;
            }
        }
    }

    /// <summary>
    /// Starts a run, or returns the state of the run with that id when it exists (resuming it if nobody drives it and
    /// it is not done: a failed run tries its failed stage again).
    /// </summary>
    /// <exception cref="ArgumentException">A bad profile, override or run id (names it).</exception>
    /// <exception cref="InvalidOperationException">The run id exists with another configuration.</exception>
    public async Task<(RunState State, string RunDir)> StartAsync(string? runId, string profile, IReadOnlyList<KeyValuePair<string, string>> overrides,
        CancellationToken cancellationToken)
    {
        await _starting.WaitAsync(cancellationToken);
        try
        {
            string id = string.IsNullOrWhiteSpace(runId) ? "run-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture) : runId;
            if (await Store.LoadAsync(id, cancellationToken) is { } existing && await Store.GetRunDirAsync(id) is { } existingDir)
            {
                // An unfinished or failed run continues (a failed stage is tried again); a done run is never redone.
                if (existing.Status != RunStatus.Done && !_driving.ContainsKey(id)) Resume(id, existingDir);
                return ((await Store.LoadAsync(id, cancellationToken))!, existingDir);
            }

            RunConfiguration configuration;
            try
            {
                string source = profile is "default" or "smoke" || Path.IsPathRooted(profile) ? profile : Path.Combine(options.RepositoryRoot, profile);
                configuration = RunConfiguration.Create(string.IsNullOrWhiteSpace(profile) ? "default" : source, overrides);
            }
            catch (Exception e) when (e is FormatException or FileNotFoundException)
            {
                throw new ArgumentException(e.Message, e is FileNotFoundException ? "profile" : "overrides", e);
            }
            string root = Path.IsPathRooted(configuration.ArtifactsRoot) || overrides.Any(o => o.Key.Equals("ArtifactsRoot", StringComparison.OrdinalIgnoreCase))
                ? Path.GetFullPath(configuration.ArtifactsRoot, options.RepositoryRoot) : options.ArtifactsRoot;
            configuration = configuration with { ArtifactsRoot = root };
            RunFolder folder;
            try
            {
                folder = RunFolder.CreateOrOpen(root, id, configuration, options.RepositoryRoot, [configuration.Models.Policy]);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(e.Message, "run_id", e);
            }
            var store = Store;
            await store.SetRunDirAsync(id, folder.Path);
            var state = await new FileRunStateStore(root).LoadAsync(id, cancellationToken) ?? CaiRun.InitialState(id);
            await store.SaveAsync(state, cancellationToken);
            Drive(new RunContext(folder, options.RepositoryRoot));
            logger.LogInformation("Run {RunId} ({Profile}) started in {Dir}", id, configuration.Profile, folder.Path);
            return (state, folder.Path);
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>The stored state of a run, or null.</summary>
    public async Task<(RunState State, string? RunDir)?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        var store = Store;
        var state = await store.LoadAsync(runId, cancellationToken);
        return state is null ? null : (state, await store.GetRunDirAsync(runId));
    }

    /// <summary>Drives an existing run again from its folder's configuration.</summary>
    private void Resume(string runId, string runDir)
    {
        var configuration = RunConfiguration.Load(Path.Combine(runDir, RunFolder.ConfigFile));
        var folder = RunFolder.CreateOrOpen(Path.GetDirectoryName(runDir)!, runId, configuration, options.RepositoryRoot);
        Drive(new RunContext(folder, options.RepositoryRoot));
    }

    /// <summary>Drives a run in the background until it ends or the service stops.</summary>
    private void Drive(RunContext run)
    {
        _driving[run.RunId] = Task.Run(async () =>
        {
            try
            {
                using var executor = new ServiceExecutor(redis.Multiplexer.GetDatabase(), configuration, options, logger);
                var store = new CompositeRunStateStore(Store, new FileRunStateStore(Path.GetDirectoryName(run.RunDir)!));
                var caiRun = new CaiRun(run, executor, store, (dir, ct) => Task.Run(() => RunReport.Write(dir), ct), logger);
                var final = await caiRun.RunAsync(_stopping);
                if (final.Status == RunStatus.Done)
                    logger.LogInformation("Run {RunId} done. Report: {Report}", run.RunId, final.ReportPath);
                else
                    logger.LogError("Run {RunId} {Status}: {Message}", run.RunId, final.Status, final.Message);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                logger.LogInformation("Run {RunId} interrupted by shutdown; it resumes when the orchestrator starts again", run.RunId);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Run {RunId} stopped", run.RunId);
            }
            finally
            {
                _driving.TryRemove(run.RunId, out _);
            }
        });
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await Task.WhenAll(_driving.Values).WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
    }
}
