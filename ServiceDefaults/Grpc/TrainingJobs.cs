using Cai.Protos.V1;
using System.Threading.Channels;

namespace Cai.ServiceDefaults.Grpc;

/// <summary>
/// One training job at a time per replica (a training run owns the cores and most of the memory): a
/// second concurrent Train call gets RESOURCE_EXHAUSTED. Runs the synchronous trainer on a worker
/// thread while its progress reports are streamed to the caller, in order.
/// </summary>
public sealed class TrainingJobs
{
    private readonly SemaphoreSlim _slot = new(1, 1);

    /// <summary>Whether a job is running now.</summary>
    public bool Busy => _slot.CurrentCount == 0;

    /// <summary>Runs <paramref name="train"/>, awaiting <paramref name="write"/> for each progress report, and returns its result.</summary>
    /// <exception cref="OverloadedException">Another job is running on this replica.</exception>
    public async Task<TResult> RunAsync<TProgress, TResult>(
        Func<IProgress<TProgress>, TResult> train, Func<TProgress, Task> write, CancellationToken cancellationToken)
    {
        if (!await _slot.WaitAsync(0, cancellationToken))
            throw new OverloadedException("A training job is already running on this replica; try again when it ends.");
        try
        {
            var reports = Channel.CreateUnbounded<TProgress>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var job = Task.Run(() =>
            {
                try { return train(new ChannelProgress<TProgress>(reports.Writer)); }
                finally { reports.Writer.TryComplete(); }
            }, cancellationToken);
            try
            {
                await foreach (var report in reports.Reader.ReadAllAsync(cancellationToken)) await write(report);
            }
            catch
            {
                // Keep the slot until the trainer has stopped (it honours the call's cancellation).
                try { await job; } catch (Exception) { }
                throw;
            }
            return await job;
        }
        finally
        {
            _slot.Release();
        }
    }

    /// <summary>The progress message of one training step.</summary>
    public static Progress ToMessage(string stage, int step, int totalSteps, TimeSpan elapsed, IReadOnlyDictionary<string, double> metrics)
    {
        var message = new Progress { Stage = stage, Step = step, TotalSteps = totalSteps, ElapsedSeconds = elapsed.TotalSeconds };
        foreach (var (name, value) in metrics) message.Metrics[name] = value;
        return message;
    }

    // Progress<T> would post to the thread pool and could reorder reports; a channel keeps their order.
    private sealed class ChannelProgress<T>(ChannelWriter<T> writer) : IProgress<T>
    {
        public void Report(T value) => writer.TryWrite(value);
    }
}
