namespace Cai.Streams;

/// <summary>Options of a <see cref="StreamProducer{T}"/>: backpressure against the consumer groups of the stream.</summary>
public sealed record StreamProducerOptions
{
    /// <summary>
    /// The most entries a consumer group may have waiting (its lag: entries not yet delivered to
    /// it). A producer waits while any watched group is at this bound, so a slow stage slows its
    /// producer instead of the stream growing without end. <see langword="null"/> = no bound.
    /// Default 10,000. With several producers the bound may be exceeded by up to one producer's
    /// remaining credit each (they check independently).
    /// </summary>
    public long? MaxLag { get; init; } = 10_000;

    /// <summary>
    /// The consuming stages' groups: their lag is watched, and they are created (at the start of
    /// the stream) before the first publish, so that a stage started after its producer misses
    /// nothing and trimming cannot remove entries it has not read. <see langword="null"/>
    /// (default) = watch every group that exists on the stream at the time.
    /// </summary>
    public IReadOnlyList<string>? Groups { get; init; }

    /// <summary>How often a waiting producer re-reads the lag. Default 100 ms.</summary>
    public TimeSpan LagPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    internal void Validate()
    {
        if (MaxLag is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLag), MaxLag, $"{nameof(StreamProducerOptions)}.{nameof(MaxLag)} must be >= 1 or null (no bound).");
        }
        if (LagPollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(LagPollInterval), LagPollInterval, $"{nameof(StreamProducerOptions)}.{nameof(LagPollInterval)} must be positive.");
        }
        if (Groups is { } groups && groups.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException($"{nameof(StreamProducerOptions)}.{nameof(Groups)} contains an empty group name.", nameof(Groups));
        }
    }
}
