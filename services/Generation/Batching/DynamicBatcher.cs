using System.Diagnostics;
using System.Threading.Channels;
using Cai.Modeling.Generation;
using Cai.Modeling.Scoring;
using Cai.Protos.V1;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using TorchSharp;
using ProtoContinuationScore = Cai.Protos.V1.ContinuationScore;

namespace Cai.Services.Generation.Batching;

/// <summary>
/// Dynamic batching for one loaded model. Calls enter a queue (a channel); one worker takes the
/// oldest call, waits up to the batch window for more, and runs every compatible waiting call (same
/// <see cref="BatchKey"/>, up to <see cref="GenerationOptions.MaxBatchSize"/> sequences) as one
/// sampler or scorer call of the model core, routing tokens and results back to each caller.
/// Calls that do not fit, or need other sampling settings, wait for the next batch. Batches of one
/// model run one after another (they would only compete for the same cores); different models run
/// concurrently.
/// </summary>
/// <remarks>
/// A caller that cancels while queued frees its slot at once. Once its batch runs, the model core's
/// sampler offers no way to remove a row from outside, so the cancelled caller's rows finish with the
/// batch and their output is dropped; when every caller of a batch has cancelled, the sampler is
/// cancelled at its next step.
/// </remarks>
public sealed class DynamicBatcher : IAsyncDisposable
{
    private readonly Sampler _sampler;
    private readonly Scorer _scorer;
    private readonly GenerationOptions _options;
    private readonly GenerationMetrics _metrics;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly Channel<WorkItem> _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    public DynamicBatcher(string name, Sampler sampler, Scorer scorer, GenerationOptions options, GenerationMetrics metrics, ILogger logger)
    {
        (_name, _sampler, _scorer, _options, _metrics, _logger) = (name, sampler, scorer, options, metrics, logger);
        // One long-lived thread per model: libtorch keeps per-thread state (its OpenMP team, the
        // thread count), and a fresh thread per batch measured ~3x slower on small batches.
        new Thread(Work) { IsBackground = true, Name = $"cai-generation {name}" }.Start();
    }

    /// <summary>Calls waiting for a batch (not counting those in the running batch).</summary>
    public int QueueLength => Volatile.Read(ref _waiting);

    /// <summary>
    /// Queues a call. Throws <see cref="OverloadedException"/> when <see cref="GenerationOptions.MaxQueueLength"/>
    /// calls already wait; returns false when this batcher is shutting down (its model was evicted).
    /// </summary>
    public bool TryEnqueue(WorkItem item)
    {
        if (Interlocked.Increment(ref _waiting) > _options.MaxQueueLength)
        {
            Interlocked.Decrement(ref _waiting);
            throw new OverloadedException($"The generation queue of model '{_name}' is full ({_options.MaxQueueLength} requests waiting); retry later.");
        }
        item.EnqueuedAt = Stopwatch.GetTimestamp();
        _metrics.QueueChanged(+1);
        // Registered before the worker can see the call, so a start and a cancellation never race on it.
        item.QueueRegistration = item.CallCancelled.Register(() =>
        {
            if (item.TryCancelWhileQueued()) LeaveQueue();
        });
        if (_queue.Writer.TryWrite(item)) return true;
        item.QueueRegistration.Dispose();
        if (item.TryCancelWhileQueued()) LeaveQueue();
        return false;
    }

    private void LeaveQueue()
    {
        Interlocked.Decrement(ref _waiting);
        _metrics.QueueChanged(-1);
    }

    private void Work()
    {
        if (_options.Threads > 0) torch.set_num_threads(_options.Threads);
        var pending = new List<WorkItem>();
        var stop = _shutdown.Token;
        try
        {
            while (true)
            {
                if (pending.Count == 0)
                {
                    if (!Wait(_queue.Reader.WaitToReadAsync(stop))) break; // completed and drained
                }
                Drain(pending);
                // A cancelled call's slot was freed by its cancellation callback; just forget it.
                pending.RemoveAll(w => w.IsCancelled);
                if (pending.Count == 0) continue;

                WaitForBatch(pending, stop);
                var batch = TakeBatch(pending);
                if (batch.Count == 0) continue;
                Run(batch);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        // Whatever still waits when the batcher stops: fail it clearly rather than leave callers hanging.
        Drain(pending);
        foreach (var item in pending)
            if (item.TryStart())
            {
                LeaveQueue();
                item.Fail(ShuttingDown());
            }
        _stopped.TrySetResult();
    }

    /// <summary>Blocks this (dedicated) thread on a channel wait.</summary>
    private static bool Wait(ValueTask<bool> wait) => wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();

    private RpcException ShuttingDown() =>
        new(new Status(StatusCode.Unavailable, $"The generation service is stopping; model '{_name}' no longer takes requests."));

    private void Drain(List<WorkItem> pending)
    {
        while (_queue.Reader.TryRead(out var item)) pending.Add(item);
    }

    /// <summary>Waits until the oldest call's window has passed or a full batch is ready.</summary>
    private void WaitForBatch(List<WorkItem> pending, CancellationToken stop)
    {
        var key = pending[0].Key;
        var deadline = pending[0].EnqueuedAt + (long)(_options.BatchWindow.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            int ready = pending.Where(w => w.Key == key && !w.IsCancelled).Sum(w => w.Sequences);
            long remaining = deadline - Stopwatch.GetTimestamp();
            if (ready >= _options.MaxBatchSize || remaining <= 0) return;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
            try
            {
                if (!Wait(_queue.Reader.WaitToReadAsync(timeout.Token))) return;
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                return; // the window is over
            }
            Drain(pending);
        }
    }

    /// <summary>The oldest live call and every later compatible call that still fits, in arrival order.</summary>
    private List<WorkItem> TakeBatch(List<WorkItem> pending)
    {
        var batch = new List<WorkItem>();
        BatchKey? key = null;
        int rows = 0;
        for (int i = 0; i < pending.Count; i++)
        {
            var item = pending[i];
            if (key is not null && (item.Key != key || rows + item.Sequences > _options.MaxBatchSize)) continue;
            pending.RemoveAt(i--);
            if (!item.TryStart()) continue; // cancelled while queued: its slot is already free
            item.QueueRegistration.Dispose();
            LeaveQueue();
            key ??= item.Key;
            rows += item.Sequences;
            batch.Add(item);
        }
        return batch;
    }

    private void Run(List<WorkItem> batch)
    {
        // Stop the model early only when no caller of the batch is left.
        using var everyoneLeft = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        int live = batch.Count;
        var registrations = batch.Select(w => w.CallCancelled.Register(() =>
        {
            if (Interlocked.Decrement(ref live) == 0) everyoneLeft.Cancel();
        })).ToList();
        try
        {
            if (batch[0] is ScoreWork) RunScore(batch.Cast<ScoreWork>().ToList(), everyoneLeft.Token);
            else RunGenerate(batch.Cast<GenerateWork>().ToList(), everyoneLeft.Token);
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            foreach (var item in batch) item.Fail(ShuttingDown());
        }
        catch (OperationCanceledException) when (everyoneLeft.IsCancellationRequested)
        {
            foreach (var item in batch) item.Fail(null);
        }
        catch (Exception e)
        {
            // Requests were checked before they were queued: a failure here is the service's, not the
            // caller's, so it must not surface as INVALID_ARGUMENT even when the model core threw an ArgumentException.
            _logger.LogError(e, "A batch of {Count} calls on model {Model} failed", batch.Count, _name);
            // One exception per caller: each is rethrown on its own call's thread.
            foreach (var item in batch) item.Fail(new InvalidOperationException($"Generation on model '{_name}' failed: {e.Message}", e));
        }
        finally
        {
            foreach (var r in registrations) r.Dispose();
        }
    }

    private void RunGenerate(List<GenerateWork> batch, CancellationToken cancellationToken)
    {
        var prompts = new List<int[]>();
        var owners = new List<(GenerateWork Work, int LocalPrompt)>();
        foreach (var work in batch)
            for (int p = 0; p < work.Prompts.Length; p++)
            {
                prompts.Add(work.Prompts[p]);
                owners.Add((work, p));
            }
        var options = batch[0].Options; // every member has the same key, hence the same sampling settings
        _metrics.RecordBatch("generate", prompts.Count * options.SamplesPerPrompt);
        _logger.LogDebug("Model {Model}: generating for {Calls} calls, {Prompts} prompts", _name, batch.Count, prompts.Count);

        long tokens = 0;
        var sequences = _sampler.Generate(prompts, options, token =>
        {
            tokens++;
            var (work, local) = owners[token.PromptIndex];
            if (!work.StreamTokens || work.IsCancelled) return;
            work.Responses.Writer.TryWrite(new GenerateResponse
            {
                Delta = new TokenDelta { PromptIndex = local, SampleIndex = token.SampleIndex, TokenId = token.Token, Text = token.TextDelta },
            });
        }, cancellationToken);
        _metrics.AddTokens(tokens);

        foreach (var seq in sequences)
        {
            var (work, local) = owners[seq.PromptIndex];
            if (work.IsCancelled) continue;
            work.Responses.Writer.TryWrite(new GenerateResponse
            {
                Completion = new Completion
                {
                    PromptIndex = local,
                    SampleIndex = seq.SampleIndex,
                    Text = seq.Text,
                    NumTokens = seq.Tokens.Length,
                    FinishReason = seq.FinishReason == FinishReason.Length ? "length" : "stop",
                },
            });
        }
        foreach (var work in batch) work.Responses.Writer.TryComplete();
    }

    private void RunScore(List<ScoreWork> batch, CancellationToken cancellationToken)
    {
        var pairs = batch.SelectMany(w => w.Pairs).ToList();
        _metrics.RecordBatch("score", pairs.Count);
        var scores = _scorer.Score(pairs, cancellationToken);
        int next = 0;
        foreach (var work in batch)
        {
            var response = new ScoreResponse();
            foreach (int count in work.ContinuationsPerItem)
            {
                var item = new ScoredItem();
                for (int c = 0; c < count; c++)
                {
                    var s = scores[next++];
                    var proto = new ProtoContinuationScore { SumLogprob = s.Sum, NumTokens = s.TokenLogProbs.Length };
                    proto.TokenLogprobs.AddRange(s.TokenLogProbs);
                    item.Continuations.Add(proto);
                }
                response.Items.Add(item);
            }
            work.Result.TrySetResult(response);
        }
    }

    /// <summary>Stops taking calls and lets the queued ones run (a model leaving the LRU).</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task;
    }

    /// <summary>Cancels the running batch and fails the waiting calls with UNAVAILABLE (host shutdown).</summary>
    public async Task StopAsync()
    {
        _queue.Writer.TryComplete();
        await _shutdown.CancelAsync();
        await _stopped.Task;
    }
}
