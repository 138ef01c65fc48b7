using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cai.Pipeline;

/// <summary>
/// One Constitutional AI run, end to end: prompts -> SL-CAI critique/revision -> SFT -> response pairs -> AI labels
/// -> preference model -> PPO -> evaluation -> report (<see cref="CaiStages.All"/>). Each stage writes into the run
/// folder (<see cref="RunLayout"/>) and its state into the <see cref="IRunStateStore"/>; running a run again resumes
/// it: finished stages are skipped, item stages add only the items they lack, training stages continue from their
/// newest checkpoint. The <see cref="IStageExecutor"/> decides where the work runs (this process, or the services).
/// </summary>
public sealed partial class CaiRun
{
    private readonly RunContext _run;
    private readonly IStageExecutor _executor;
    private readonly IRunStateStore _store;
    private readonly Func<string, CancellationToken, Task<string>>? _writeReport;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _saving = new(1, 1);
    private RunState _state = null!;

    /// <param name="run">The run.</param>
    /// <param name="executor">Where the work runs.</param>
    /// <param name="store">Where the state is kept.</param>
    /// <param name="writeReport">Writes the report of a run folder and returns its path (the report stage); null skips that stage.</param>
    /// <param name="logger">Stage starts, ends and failures.</param>
    public CaiRun(RunContext run, IStageExecutor executor, IRunStateStore store,
        Func<string, CancellationToken, Task<string>>? writeReport = null, ILogger? logger = null)
    {
        _run = run ?? throw new ArgumentNullException(nameof(run));
        _executor = executor ?? throw new ArgumentNullException(nameof(executor));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _writeReport = writeReport;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Raised after every saved change of the state (progress, stage start and end).</summary>
    public event Action<RunState>? StateChanged;

    /// <summary>The state as last saved.</summary>
    public RunState State => _state;

    /// <summary>A fresh state: every stage pending.</summary>
    public static RunState InitialState(string runId)
    {
        var now = DateTimeOffset.UtcNow;
        return new RunState(runId, RunStatus.Pending, [.. CaiStages.All.Select(s => new StageState(s))], now, now);
    }

    /// <summary>
    /// Runs (or resumes) the run until every stage is done, a stage fails (the state says which and why; the
    /// exception is not rethrown) or <paramref name="cancellationToken"/> is cancelled (rethrown; the state keeps
    /// what was finished, so running again continues).
    /// </summary>
    public async Task<RunState> RunAsync(CancellationToken cancellationToken = default)
    {
        _state = await _store.LoadAsync(_run.RunId, cancellationToken).ConfigureAwait(false) ?? InitialState(_run.RunId);
        if (_state.Status == RunStatus.Done) return _state;
        await UpdateAsync(s => s with { Status = RunStatus.Running, Message = null }, cancellationToken).ConfigureAwait(false);

        foreach (string stage in CaiStages.All)
        {
            var current = _state.Stage(stage);
            if (current.Status is RunStatus.Done or RunStatus.Skipped) continue;
            var clock = Stopwatch.StartNew();
            double before = current.Seconds;
            await UpdateAsync(s => s.With(s.Stage(stage) with { Status = RunStatus.Running, StartedUtc = DateTimeOffset.UtcNow, Message = null }),
                cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Run {RunId}: stage {Stage} started", _run.RunId, stage);
            try
            {
                var reporter = new StageReporter(this, stage, clock, before);
                var artifacts = await RunStageAsync(stage, reporter, cancellationToken).ConfigureAwait(false);
                await reporter.FlushAsync(cancellationToken).ConfigureAwait(false);
                var status = artifacts is null ? RunStatus.Skipped : RunStatus.Done;
                reporter.Complete();
                await UpdateAsync(s =>
                {
                    var latest = s.Stage(stage);
                    return s.With(latest with
                    {
                        Status = status,
                        FinishedUtc = DateTimeOffset.UtcNow,
                        Seconds = before + clock.Elapsed.TotalSeconds,
                        DoneItems = Math.Max(latest.DoneItems, latest.TotalItems),
                        Artifacts = artifacts ?? latest.Artifacts,
                        Message = status == RunStatus.Skipped ? "skipped" : latest.Message,
                    });
                }, cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("Run {RunId}: stage {Stage} {Status} after {Seconds:F0} s", _run.RunId, stage, status, clock.Elapsed.TotalSeconds);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await UpdateAsync(s => s.With(s.Stage(stage) with { Status = RunStatus.Pending, Seconds = before + clock.Elapsed.TotalSeconds, Message = "interrupted" })
                    with { Status = RunStatus.Pending }, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Run {RunId}: stage {Stage} failed", _run.RunId, stage);
                string message = $"{e.GetType().Name}: {e.Message}";
                await UpdateAsync(s => s.With(s.Stage(stage) with { Status = RunStatus.Failed, Seconds = before + clock.Elapsed.TotalSeconds, Message = message })
                    with { Status = RunStatus.Failed, Message = $"stage {stage} failed: {message}" }, CancellationToken.None).ConfigureAwait(false);
                return _state;
            }
        }

        string? report = _state.Stage(CaiStages.Report).Artifacts?.GetValueOrDefault("report");
        await UpdateAsync(s => s with { Status = RunStatus.Done, ReportPath = report is null ? null : _run.InRun(report) }, cancellationToken).ConfigureAwait(false);
        return _state;
    }

    /// <summary>Runs one stage; returns its artifacts (relative paths), or null when the configuration skips it.</summary>
    private Task<IReadOnlyDictionary<string, string>?> RunStageAsync(string stage, StageReporter progress, CancellationToken cancellationToken) => stage switch
    {
        CaiStages.Prompts => PromptsAsync(progress, cancellationToken),
        CaiStages.SlCai => SlCaiAsync(progress, cancellationToken),
        CaiStages.Sft => SftAsync(progress, cancellationToken),
        CaiStages.Pairs => PairsAsync(progress, cancellationToken),
        CaiStages.Labels => LabelsAsync(progress, cancellationToken),
        CaiStages.PreferenceModel => PreferenceModelAsync(progress, cancellationToken),
        CaiStages.Ppo => PpoAsync(progress, cancellationToken),
        CaiStages.Evaluation => EvaluationAsync(progress, cancellationToken),
        CaiStages.Report => ReportAsync(progress, cancellationToken),
        _ => throw new InvalidOperationException($"unknown stage '{stage}'"),
    };

    /// <summary>Applies <paramref name="change"/> to the latest state and saves it; changes are applied one at a time.</summary>
    private async Task UpdateAsync(Func<RunState, RunState> change, CancellationToken cancellationToken)
    {
        await _saving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _state = change(_state) with { UpdatedUtc = DateTimeOffset.UtcNow };
            await _store.SaveAsync(_state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _saving.Release();
        }
        StateChanged?.Invoke(_state);
    }

    /// <summary>A path relative to the run folder, with forward slashes (for artifacts).</summary>
    private string Relative(string path) => Path.GetRelativePath(_run.RunDir, path).Replace('\\', '/');

    /// <summary>
    /// A stage's progress: updates the stage's counts and message in the state, saving at most once a second
    /// (and on <see cref="FlushAsync"/>), from any thread.
    /// </summary>
    private sealed class StageReporter(CaiRun owner, string stage, Stopwatch clock, double secondsBefore) : IProgress<StageProgress>
    {
        private readonly Lock _lock = new();
        private StageProgress? _pending;
        private TimeSpan _lastSave = TimeSpan.FromSeconds(-10);
        private bool _complete;

        /// <summary>Ignores progress from now on (the stage's end is being saved).</summary>
        public void Complete()
        {
            lock (_lock) _complete = true;
        }

        public void Report(StageProgress value)
        {
            bool save;
            lock (_lock)
            {
                if (_complete) return;
                _pending = value;
                save = clock.Elapsed - _lastSave >= TimeSpan.FromSeconds(1);
                if (save) _lastSave = clock.Elapsed;
            }
            if (save) _ = FlushAsync(CancellationToken.None);
        }

        public async Task FlushAsync(CancellationToken cancellationToken)
        {
            StageProgress? value;
            lock (_lock)
            {
                value = _pending;
                _pending = null;
            }
            if (value is null) return;
            try
            {
                await owner.UpdateAsync(s =>
                {
                    var latest = s.Stage(stage);
                    // A late report after the stage ended changes nothing.
                    if (latest.Status != RunStatus.Running) return s;
                    // (0, 0) carries a message only and keeps the counts.
                    bool counts = value.Done != 0 || value.Total != 0;
                    return s.With(latest with
                    {
                        DoneItems = counts ? value.Done : latest.DoneItems,
                        TotalItems = counts ? value.Total : latest.TotalItems,
                        Message = value.Message ?? latest.Message,
                        Seconds = secondsBefore + clock.Elapsed.TotalSeconds,
                    });
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Progress is best effort; the stage's end is saved for sure.
                owner._logger.LogWarning(e, "Could not save the progress of stage {Stage}", stage);
            }
        }
    }
}
