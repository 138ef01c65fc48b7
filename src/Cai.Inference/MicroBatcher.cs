using System.Threading.Channels;

namespace Cai.Inference;

/// <summary>
/// Gathers items submitted one at a time (e.g. by a stream worker's concurrent per-entry handlers) into batches
/// for one batched call, so a stage keeps many sequences in flight: the first waiting item waits at most
/// <c>window</c> for batch-mates, and a batch closes early at <c>maxBatch</c> items. Batches run one after another.
/// If the batch call fails, every item of the batch gets the exception.
/// </summary>
/// <typeparam name="TIn">An item of work (a prompt, a comparison).</typeparam>
/// <typeparam name="TOut">Its result.</typeparam>
public sealed class MicroBatcher<TIn, TOut> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TIn>, CancellationToken, Task<IReadOnlyList<TOut>>> _run;
    private readonly int _maxBatch;
    private readonly TimeSpan _window;
    private readonly Channel<(TIn Item, TaskCompletionSource<TOut> Result)> _queue =
        Channel.CreateUnbounded<(TIn, TaskCompletionSource<TOut>)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    /// <param name="run">The batched call: one result per item, in order.</param>
    /// <param name="maxBatch">Most items per call.</param>
    /// <param name="window">How long the first item of a batch waits for more.</param>
    public MicroBatcher(Func<IReadOnlyList<TIn>, CancellationToken, Task<IReadOnlyList<TOut>>> run, int maxBatch, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.Zero);
        _run = run;
        _maxBatch = maxBatch;
        _window = window;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Queues an item and waits for its result.</summary>
    public async Task<TOut> SubmitAsync(TIn item, CancellationToken cancellationToken)
    {
        var result = new TaskCompletionSource<TOut>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((item, result))) throw new ObjectDisposedException(nameof(MicroBatcher<TIn, TOut>));
        return await result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<(TIn Item, TaskCompletionSource<TOut> Result)>(_maxBatch);
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                batch.Clear();
                using (var window = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
                {
                    window.CancelAfter(_window);
                    try
                    {
                        while (batch.Count < _maxBatch)
                        {
                            if (reader.TryRead(out var next)) batch.Add(next);
                            else if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false)) break;
                        }
                    }
                    catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
                    {
                        // The window closed: run what has gathered.
                    }
                }
                if (batch.Count > 0) await RunBatchAsync(batch).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            foreach (var (_, result) in batch) result.TrySetCanceled();
            while (reader.TryRead(out var left)) left.Result.TrySetCanceled();
        }
    }

    private async Task RunBatchAsync(List<(TIn Item, TaskCompletionSource<TOut> Result)> batch)
    {
        try
        {
            var outputs = await _run([.. batch.Select(b => b.Item)], _stopping.Token).ConfigureAwait(false);
            if (outputs.Count != batch.Count)
                throw new InvalidOperationException($"the batched call returned {outputs.Count} results for {batch.Count} items");
            for (int i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(outputs[i]);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
        {
            foreach (var (_, result) in batch) result.TrySetException(ex);
        }
    }

    /// <summary>Stops the loop; items not yet run are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
    }
}
