namespace Cai.Pipeline;

/// <summary>Where a run's <see cref="RunState"/> lives between steps: a file beside the artifacts, Redis, or both.</summary>
public interface IRunStateStore
{
    /// <summary>The stored state, or null for a run never saved here.</summary>
    Task<RunState?> LoadAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Saves the state (overwrites).</summary>
    Task SaveAsync(RunState state, CancellationToken cancellationToken);
}

/// <summary>The state as <c>state.json</c> in the run folder (<see cref="RunLayout.StateFile"/>), written atomically.</summary>
public sealed class FileRunStateStore(string artifactsRoot) : IRunStateStore
{
    public string PathOf(string runId) => Path.Combine(artifactsRoot, runId, RunLayout.StateFile);

    public Task<RunState?> LoadAsync(string runId, CancellationToken cancellationToken)
    {
        string path = PathOf(runId);
        return Task.FromResult(File.Exists(path) ? RunLayout.ReadJson<RunState>(path) : null);
    }

    public Task SaveAsync(RunState state, CancellationToken cancellationToken)
    {
        RunLayout.WriteJson(PathOf(state.RunId), state);
        return Task.CompletedTask;
    }
}

/// <summary>Saves to several stores (e.g. Redis for the RPCs and state.json for people and the report); loads from the first that has it.</summary>
public sealed class CompositeRunStateStore(params IRunStateStore[] stores) : IRunStateStore
{
    public async Task<RunState?> LoadAsync(string runId, CancellationToken cancellationToken)
    {
        foreach (var store in stores)
            if (await store.LoadAsync(runId, cancellationToken).ConfigureAwait(false) is { } state) return state;
        return null;
    }

    public async Task SaveAsync(RunState state, CancellationToken cancellationToken)
    {
        foreach (var store in stores) await store.SaveAsync(state, cancellationToken).ConfigureAwait(false);
    }
}
