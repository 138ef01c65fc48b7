using System.Threading.Channels;
using Cai.Modeling.Generation;
using Cai.Protos.V1;

namespace Cai.Services.Generation.Batching;

/// <summary>
/// Which requests may share one sampler call: the same kind and the same sampling settings. Greedy
/// decoding ignores top-k, top-p and the seed, so every greedy request with the same length and stop
/// settings is compatible. A seeded sampled request gets a key of its own (<see cref="Solo"/>): the
/// model core's sampler draws all rows from one generator, so sharing a call would make its samples
/// depend on its batch-mates.
/// </summary>
public readonly record struct BatchKey(string Kind, float Temperature, float TopP, int TopK, int MaxNewTokens,
    int SamplesPerPrompt, string StopStrings, long Solo)
{
    public static readonly BatchKey Score = new("score", 0, 1, 0, 0, 1, "", 0);

    private static long _solo;

    public static BatchKey For(SamplingOptions o)
    {
        bool greedy = o.Temperature == 0;
        // Length-prefixed, so that no two different lists of stop strings give the same key.
        string stops = string.Concat(o.StopStrings.Order(StringComparer.Ordinal).Select(x => $"{x.Length}:{x}"));
        long solo = !greedy && o.Seed is not null ? Interlocked.Increment(ref _solo) : 0;
        return greedy
            ? new("generate", 0, 1, 0, o.MaxNewTokens, o.SamplesPerPrompt, stops, 0)
            : new("generate", o.Temperature, o.TopP, o.TopK, o.MaxNewTokens, o.SamplesPerPrompt, stops, solo);
    }
}

/// <summary>One call waiting in (or running from) a model's batching queue.</summary>
public abstract class WorkItem(BatchKey key, int sequences, CancellationToken callCancelled)
{
    private const int Queued = 0, Running = 1, Cancelled = 2;
    private int _state;

    public BatchKey Key { get; } = key;

    /// <summary>Rows this call adds to a batch.</summary>
    public int Sequences { get; } = sequences;

    /// <summary>Cancelled when the caller goes away (the gRPC call's token).</summary>
    public CancellationToken CallCancelled { get; } = callCancelled;

    public long EnqueuedAt { get; internal set; }

    /// <summary>Frees the queue slot if the caller leaves before the call runs.</summary>
    internal CancellationTokenRegistration QueueRegistration { get; set; }

    public bool IsCancelled => CallCancelled.IsCancellationRequested;

    /// <summary>Queued -> running; false when the caller cancelled first.</summary>
    internal bool TryStart() => Interlocked.CompareExchange(ref _state, Running, Queued) == Queued;

    /// <summary>Queued -> cancelled; true when this freed a queue slot.</summary>
    internal bool TryCancelWhileQueued() => Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued;

    /// <summary>Ends the call with an error (or, with null, after a batch every caller left).</summary>
    internal abstract void Fail(Exception? error);
}

/// <summary>A Generate call: its token-encoded prompts and the responses routed back to it.</summary>
public sealed class GenerateWork(int[][] prompts, SamplingOptions options, bool streamTokens, CancellationToken callCancelled)
    : WorkItem(BatchKey.For(options), prompts.Length * options.SamplesPerPrompt, callCancelled)
{
    public int[][] Prompts { get; } = prompts;
    public SamplingOptions Options { get; } = options;
    public bool StreamTokens { get; } = streamTokens;

    /// <summary>Deltas as produced, then one completion per sample; completed when the batch ends.</summary>
    public Channel<GenerateResponse> Responses { get; } =
        Channel.CreateUnbounded<GenerateResponse>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Why the batch failed, when it did; read after <see cref="Responses"/> completes.</summary>
    public Exception? Error { get; private set; }

    internal override void Fail(Exception? error)
    {
        Error = error;
        Responses.Writer.TryComplete();
    }
}

/// <summary>A Score call: (prompt, continuation) pairs flattened in request order.</summary>
public sealed class ScoreWork(IReadOnlyList<(int[] Prompt, int[] Continuation)> pairs, int[] continuationsPerItem, CancellationToken callCancelled)
    : WorkItem(BatchKey.Score, pairs.Count, callCancelled)
{
    public IReadOnlyList<(int[] Prompt, int[] Continuation)> Pairs { get; } = pairs;
    public int[] ContinuationsPerItem { get; } = continuationsPerItem;
    public TaskCompletionSource<ScoreResponse> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal override void Fail(Exception? error)
    {
        if (error is null) Result.TrySetCanceled();
        else Result.TrySetException(error);
    }
}
