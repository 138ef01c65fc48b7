using Cai.Protos.V1;

namespace Cai.Services.Ppo;

/// <summary>The run id and last progress message of this replica's latest PPO job, for the <c>Status</c> RPC.</summary>
public sealed class PpoJobStatus
{
    private readonly Lock _lock = new();
    private string _runId = "";
    private Progress? _last;

    /// <summary>Records the start of a job (its progress so far is none).</summary>
    public void Start(string runId)
    {
        lock (_lock) { _runId = runId; _last = null; }
    }

    /// <summary>Records a job's latest progress.</summary>
    public void Report(Progress progress)
    {
        lock (_lock) _last = progress;
    }

    /// <summary>The latest job's run id and last progress (null before its first iteration ends).</summary>
    public (string RunId, Progress? Last) Snapshot()
    {
        lock (_lock) return (_runId, _last);
    }
}
