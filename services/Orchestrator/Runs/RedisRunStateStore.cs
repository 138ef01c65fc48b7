using System.Text.Json;
using Cai.Pipeline;
using StackExchange.Redis;

namespace Cai.Services.Orchestrator.Runs;

/// <summary>
/// Run state in Redis: <c>cai:{run}:state</c> holds the <see cref="RunState"/> as JSON, <c>cai:{run}:dir</c> the run
/// folder, and the set <see cref="RunsKey"/> every run id the orchestrator has started (so a restarted orchestrator
/// finds the runs to resume).
/// </summary>
public sealed class RedisRunStateStore(IDatabase db) : IRunStateStore
{
    public const string RunsKey = "cai:runs";

    public static string StateKey(string runId) => $"cai:{runId}:state";
    public static string DirKey(string runId) => $"cai:{runId}:dir";

    public async Task<RunState?> LoadAsync(string runId, CancellationToken cancellationToken)
    {
        var value = await db.StringGetAsync(StateKey(runId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (value.IsNullOrEmpty) return null;
        try
        {
            return JsonSerializer.Deserialize<RunState>(value.ToString(), RunLayout.Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{StateKey(runId)}: {e.Message}", e);
        }
    }

    public async Task SaveAsync(RunState state, CancellationToken cancellationToken)
    {
        var batch = db.CreateBatch();
        var set = batch.StringSetAsync(StateKey(state.RunId), JsonSerializer.Serialize(state, RunLayout.Json));
        var add = batch.SetAddAsync(RunsKey, state.RunId);
        batch.Execute();
        await Task.WhenAll(set, add).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Remembers where a run's folder is.</summary>
    public Task SetRunDirAsync(string runId, string runDir) => db.StringSetAsync(DirKey(runId), runDir);

    /// <summary>The run's folder, or null.</summary>
    public async Task<string?> GetRunDirAsync(string runId) => (string?)await db.StringGetAsync(DirKey(runId)).ConfigureAwait(false);

    /// <summary>Every run id started here.</summary>
    public async Task<IReadOnlyList<string>> RunIdsAsync() =>
        [.. (await db.SetMembersAsync(RunsKey).ConfigureAwait(false)).Select(v => v.ToString()).Order(StringComparer.Ordinal)];
}
