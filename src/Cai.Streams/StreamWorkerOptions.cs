namespace Cai.Streams;

/// <summary>Options of a <see cref="StreamWorker{T}"/>, with the defaults a CAI stage worker uses.</summary>
public sealed record StreamWorkerOptions
{
    /// <summary>The consumer group: one per consuming stage (e.g. "critique"); replicas of the stage share it.</summary>
    public required string Group { get; init; }

    /// <summary>
    /// This replica's consumer name, unique within the group. Default: host name, process id
    /// and a random suffix, so a restarted process is a new consumer and its predecessor's
    /// pending entries are reclaimed rather than silently resumed.
    /// </summary>
    public string Consumer { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Entries read per XREADGROUP (COUNT). Default 32: a generation stage keeps >= 32 sequences in flight.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>How many entries of a batch the handler runs on at once. Default 1 (in order); raise it to let a batching model service see many requests together.</summary>
    public int MaxConcurrency { get; init; } = 1;

    /// <summary>
    /// Wait before reading again when the stream had nothing new. Default 200 ms. (Polling rather
    /// than XREADGROUP BLOCK: StackExchange.Redis multiplexes one connection, which a blocking
    /// command would stall for every other caller.)
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long an entry may stay pending without progress before any live consumer takes it over
    /// (XAUTOCLAIM): the time after which a crashed consumer's work, or a failed entry, is retried.
    /// While a handler runs, the worker refreshes its entries' idle time so long-running work is
    /// not taken over. Default 30 s.
    /// </summary>
    public TimeSpan ClaimIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the worker looks for entries idle longer than <see cref="ClaimIdleTimeout"/>. Default 5 s.</summary>
    public TimeSpan ReclaimInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Deliveries after which a failing entry is moved to the dead-letter stream (with its error)
    /// and acked on the source. Default 5. An entry delivered more often than this without ever
    /// completing (its consumers kept dying) is dead-lettered without running the handler again.
    /// </summary>
    public int MaxDeliveries { get; init; } = 5;

    /// <summary>
    /// Consumers of the group idle this long with no pending entries are removed (checked every
    /// reclaim interval), so consumers of stopped processes do not pile up in the group.
    /// <see langword="null"/> disables it. Default 10 min.
    /// </summary>
    public TimeSpan? RemoveIdleConsumersAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Whether this worker also trims, every reclaim interval, the entries every group of the
    /// stream has acknowledged (<see cref="RedisStreamExtensions.TrimAcknowledgedAsync"/>). Default
    /// <see langword="false"/>: trimming is only safe once every consuming group exists, which the
    /// producer guarantees when it lists them in <see cref="StreamProducerOptions.Groups"/>.
    /// </summary>
    public bool TrimAcknowledged { get; init; }

    /// <summary>Pause after a Redis connection error before trying again. Default 1 s.</summary>
    public TimeSpan ErrorBackoff { get; init; } = TimeSpan.FromSeconds(1);

    internal void Validate()
    {
        const string name = nameof(StreamWorkerOptions);
        if (string.IsNullOrWhiteSpace(Group))
        {
            throw new ArgumentException($"{name}.{nameof(Group)} must be set.", nameof(Group));
        }
        if (string.IsNullOrWhiteSpace(Consumer))
        {
            throw new ArgumentException($"{name}.{nameof(Consumer)} must be set.", nameof(Consumer));
        }
        Positive(BatchSize, nameof(BatchSize));
        Positive(MaxConcurrency, nameof(MaxConcurrency));
        Positive(MaxDeliveries, nameof(MaxDeliveries));
        Positive(PollInterval, nameof(PollInterval));
        Positive(ClaimIdleTimeout, nameof(ClaimIdleTimeout));
        Positive(ReclaimInterval, nameof(ReclaimInterval));
        Positive(ErrorBackoff, nameof(ErrorBackoff));
        if (RemoveIdleConsumersAfter is { } idle)
        {
            Positive(idle, nameof(RemoveIdleConsumersAfter));
        }

        static void Positive<TValue>(TValue value, string option) where TValue : IComparable<TValue>
        {
            if (value.CompareTo(default!) <= 0)
            {
                throw new ArgumentOutOfRangeException(option, value, $"{name}.{option} must be positive.");
            }
        }
    }
}
