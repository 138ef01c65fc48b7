using System.Diagnostics.Metrics;

namespace Cai.Services.Generation;

/// <summary>
/// The service's instruments (Meter "Cai.Generation"), exported by OpenTelemetry to the dashboard:
/// batch sizes show whether concurrent calls really share sampler calls.
/// </summary>
public sealed class GenerationMetrics
{
    public const string MeterName = "Cai.Generation";
    public const string BatchSizeName = "cai.generation.batch_size";
    public const string TokensGeneratedName = "cai.generation.tokens_generated";
    public const string QueueLengthName = "cai.generation.queue_length";

    private readonly Histogram<int> _batchSize;
    private readonly Counter<long> _tokens;
    private readonly UpDownCounter<long> _queueLength;

    public GenerationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _batchSize = meter.CreateHistogram<int>(BatchSizeName, "{sequence}",
            "Sequences (prompts x samples, or scored continuations) in one model call.");
        _tokens = meter.CreateCounter<long>(TokensGeneratedName, "{token}", "Tokens sampled.");
        _queueLength = meter.CreateUpDownCounter<long>(QueueLengthName, "{request}",
            "Requests waiting for a batch.");
    }

    /// <param name="kind">"generate" or "score".</param>
    public void RecordBatch(string kind, int sequences) =>
        _batchSize.Record(sequences, new KeyValuePair<string, object?>("kind", kind));

    public void AddTokens(long count) => _tokens.Add(count);

    public void QueueChanged(int delta) => _queueLength.Add(delta);
}
