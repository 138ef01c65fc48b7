using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Cai.Streams;

/// <summary>
/// The consuming loop of one replica of a CAI stage (e.g. the critique worker reading red-team
/// prompts): reads batches through a consumer group, runs the handler under the producer's
/// trace, acks only after success, takes over entries left pending by dead consumers, and
/// dead-letters entries that keep failing. Usable on its own (<see cref="RunAsync"/>) or from a
/// hosted service (<c>protected override Task ExecuteAsync(CancellationToken ct) =&gt; worker.RunAsync(ct);</c>).
/// One loop per instance: <see cref="RunAsync"/> and <see cref="RunOnceAsync"/> must not run concurrently
/// on the same worker (run several workers, with distinct consumer names, for more throughput).
/// </summary>
public sealed class StreamWorker<T>
{
    // Ack and dead-letter together: a crash between them would either lose the entry or write
    // it twice to the dead-letter stream. If the entry is no longer pending (another consumer
    // finished it), nothing is written.
    private const string DeadLetterScript = """
        local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        if acked == 1 then
          redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
        end
        return acked
        """;

    private readonly IDatabaseAsync _db;
    private readonly ItemStream<T> _stream;
    private readonly StreamWorkerOptions _options;
    private readonly StreamHandler<T> _handler;
    private readonly ILogger _logger;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly ConcurrentDictionary<string, byte> _inFlight = new();
    private RedisValue _claimCursor = "0-0";
    private long? _lastReclaim;
    private bool _groupReady;

    /// <param name="db">The Redis database.</param>
    /// <param name="stream">The stream to consume.</param>
    /// <param name="options">Group, consumer and timing options.</param>
    /// <param name="handler">The stage's work on one item.</param>
    /// <param name="logger">Optional logger.</param>
    public StreamWorker(IDatabaseAsync db, ItemStream<T> stream, StreamWorkerOptions options, StreamHandler<T> handler, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        options.Validate();
        _db = db;
        _stream = stream;
        _options = options;
        _handler = handler;
        _logger = logger ?? NullLogger.Instance;
        _tags = [StreamsTelemetry.StreamTag(stream.Name), StreamsTelemetry.GroupTag(options.Group)];
    }

    /// <summary>The options in use.</summary>
    public StreamWorkerOptions Options => _options;

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/> is cancelled. Entries being handled when
    /// cancellation comes stay pending (unacked) and are reclaimed later, by this group's
    /// consumers, after the claim idle timeout. Redis connection errors are logged and retried.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var handled = await RunOnceAsync(cancellationToken).ConfigureAwait(false);
                if (handled == 0)
                {
                    await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RedisServerException ex) when (IsNoGroup(ex))
            {
                // Also possible at XACK time, e.g. when a run's keys were deleted while handling.
                GroupVanished();
            }
            catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
            {
                _logger.LogWarning(ex, "Stream worker {Consumer} on {Stream}: Redis unavailable, retrying in {Backoff}", _options.Consumer, _stream.Key, _options.ErrorBackoff);
                try
                {
                    await Task.Delay(_options.ErrorBackoff, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// One step of the loop: reclaims idle pending entries (when the reclaim interval has passed),
    /// reads new entries to fill a batch, and handles them.
    /// </summary>
    /// <returns>The number of entries delivered to this consumer in this step (handled, failed or dead-lettered).</returns>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_groupReady)
        {
            await _db.EnsureConsumerGroupAsync(_stream.Key, _options.Group).ConfigureAwait(false);
            _groupReady = true;
        }

        var batch = new List<(StreamEntry Entry, long Deliveries)>(_options.BatchSize);
        try
        {
            // A scan of the pending list that has not wrapped around yet continues at once, so a
            // large backlog left by a dead consumer is taken over batch after batch.
            var reclaimDue = _lastReclaim is not { } last || Stopwatch.GetElapsedTime(last) >= _options.ReclaimInterval;
            if (reclaimDue)
            {
                _lastReclaim = Stopwatch.GetTimestamp();
                await RemoveIdleConsumersAsync().ConfigureAwait(false);
                if (_options.TrimAcknowledged)
                {
                    await _db.TrimAcknowledgedAsync(_stream.Key).ConfigureAwait(false);
                }
            }
            if (reclaimDue || _claimCursor != "0-0")
            {
                batch.AddRange(await ReclaimAsync(_options.BatchSize).ConfigureAwait(false));
            }
            if (batch.Count < _options.BatchSize)
            {
                var fresh = await _db.StreamReadGroupAsync(_stream.Key, _options.Group, _options.Consumer, StreamPosition.NewMessages, _options.BatchSize - batch.Count).ConfigureAwait(false);
                // XREADGROUP ">" delivers an entry for the first time: its delivery count is 1.
                batch.AddRange(fresh.Select(e => (e, 1L)));
            }
        }
        catch (RedisServerException ex) when (IsNoGroup(ex))
        {
            GroupVanished();
            return 0;
        }

        if (batch.Count > 0)
        {
            await HandleBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }
        return batch.Count;
    }

    private static bool IsNoGroup(RedisServerException ex) => ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal);

    private void GroupVanished()
    {
        // The stream or group was deleted under us (e.g. a run reset): recreate it on the next step.
        _groupReady = false;
        _claimCursor = "0-0";
        _logger.LogWarning("Stream worker {Consumer}: group {Group} on {Stream} vanished; recreating it", _options.Consumer, _options.Group, _stream.Key);
    }

    private async Task RemoveIdleConsumersAsync()
    {
        if (_options.RemoveIdleConsumersAfter is not { } idle)
        {
            return;
        }
        var removed = await _db.RemoveIdleConsumersAsync(_stream.Key, _options.Group, idle, keep: _options.Consumer).ConfigureAwait(false);
        if (removed > 0)
        {
            _logger.LogInformation("Stream worker {Consumer} removed {Count} idle consumers without pending entries from group {Group} of {Stream}", _options.Consumer, removed, _options.Group, _stream.Key);
        }
    }

    private async Task<List<(StreamEntry, long)>> ReclaimAsync(int count)
    {
        var result = await _db.StreamAutoClaimAsync(_stream.Key, _options.Group, _options.Consumer,
            (long)_options.ClaimIdleTimeout.TotalMilliseconds, _claimCursor, count).ConfigureAwait(false);
        // The cursor walks the pending list across steps; "0-0" means the scan wrapped around.
        _claimCursor = result.NextStartId.IsNullOrEmpty ? "0-0" : result.NextStartId;
        var claimed = result.ClaimedEntries.Where(e => !e.IsNull).ToList();
        if (claimed.Count == 0)
        {
            return [];
        }

        // XAUTOCLAIM raised each delivery count; read them back (one pipelined XPENDING per id).
        var counts = await Task.WhenAll(claimed.Select(e =>
            _db.StreamPendingMessagesAsync(_stream.Key, _options.Group, 1, _options.Consumer, e.Id, e.Id))).ConfigureAwait(false);
        var reclaimed = new List<(StreamEntry, long)>(claimed.Count);
        for (var i = 0; i < claimed.Count; i++)
        {
            // Empty: another consumer claimed it in between; it is theirs now.
            if (counts[i].Length == 1)
            {
                reclaimed.Add((claimed[i], counts[i][0].DeliveryCount));
            }
        }
        StreamsTelemetry.Reclaimed.Add(reclaimed.Count, _tags);
        _logger.LogInformation("Stream worker {Consumer} reclaimed {Count} idle entries of {Stream}", _options.Consumer, reclaimed.Count, _stream.Key);
        return reclaimed;
    }

    private async Task HandleBatchAsync(List<(StreamEntry Entry, long Deliveries)> batch, CancellationToken cancellationToken)
    {
        foreach (var (entry, _) in batch)
        {
            _inFlight[entry.Id.ToString()] = 0;
        }
        using var heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeat = KeepInFlightClaimedAsync(heartbeatStop.Token);
        try
        {
            await Parallel.ForEachAsync(batch,
                new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = cancellationToken },
                async (delivery, ct) =>
                {
                    try
                    {
                        await HandleEntryAsync(delivery.Entry, delivery.Deliveries, ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        _inFlight.TryRemove(delivery.Entry.Id.ToString(), out _);
                    }
                }).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Clear();
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Resets the idle time of entries this worker is still handling (XCLAIM JUSTID to itself, which
    /// does not count as a delivery), so that a handler slower than the claim idle timeout is not
    /// mistaken for a dead consumer and its entry handled twice.
    /// </summary>
    private async Task KeepInFlightClaimedAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.ClaimIdleTimeout / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var ids = _inFlight.Keys.Select(k => (RedisValue)k).ToArray();
                if (ids.Length > 0)
                {
                    await _db.StreamClaimIdsOnlyAsync(_stream.Key, _options.Group, _options.Consumer, 0, ids).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (RedisException ex)
        {
            _logger.LogWarning(ex, "Stream worker {Consumer}: could not refresh in-flight entries of {Stream}", _options.Consumer, _stream.Key);
        }
    }

    private async Task HandleEntryAsync(StreamEntry entry, long deliveries, CancellationToken cancellationToken)
    {
        var entryId = entry.Id.ToString();
        if (!_stream.TryDecode(entry, out var itemId, out var value, out var parent, out var decodeError))
        {
            // Retrying cannot fix a malformed entry.
            await DeadLetterAsync(entry, itemId, deliveries, "malformed entry: " + decodeError).ConfigureAwait(false);
            return;
        }
        if (deliveries > _options.MaxDeliveries)
        {
            await DeadLetterAsync(entry, itemId, deliveries,
                $"delivered {deliveries} times without completing (max {_options.MaxDeliveries}); its consumers stopped while handling it").ConfigureAwait(false);
            return;
        }

        using var activity = StreamsTelemetry.ActivitySource.StartActivity($"{_stream.Name} process", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.operation.type", "process");
        activity?.SetTag("messaging.destination.name", _stream.Key);
        activity?.SetTag("messaging.consumer.group.name", _options.Group);
        activity?.SetTag("messaging.message.id", entryId);
        activity?.SetTag("cai.streams.item_id", itemId);
        activity?.SetTag("cai.streams.delivery_count", deliveries);
        try
        {
            await _handler(new StreamItem<T>(itemId, value, entryId, deliveries), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown, not failure: leave the entry pending for whoever runs next.
            activity?.SetStatus(ActivityStatusCode.Error, "cancelled");
            throw;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            StreamsTelemetry.HandlerFailures.Add(1, _tags);
            if (deliveries >= _options.MaxDeliveries)
            {
                _logger.LogError(ex, "Item {ItemId} of {Stream} failed delivery {Delivery} of {Max}; dead-lettering it", itemId, _stream.Key, deliveries, _options.MaxDeliveries);
                await DeadLetterAsync(entry, itemId, deliveries, $"{ex.GetType().FullName}: {ex.Message}").ConfigureAwait(false);
            }
            else
            {
                _logger.LogWarning(ex, "Item {ItemId} of {Stream} failed delivery {Delivery} of {Max}; it will be retried after {Idle}", itemId, _stream.Key, deliveries, _options.MaxDeliveries, _options.ClaimIdleTimeout);
            }
            return;
        }

        await _db.StreamAcknowledgeAsync(_stream.Key, _options.Group, entry.Id).ConfigureAwait(false);
        StreamsTelemetry.Acked.Add(1, _tags);
    }

    private async Task DeadLetterAsync(StreamEntry entry, string itemId, long deliveries, string error)
    {
        var args = new List<RedisValue>
        {
            _options.Group, entry.Id,
            EntryFields.ItemId, itemId,
            EntryFields.Data, entry[EntryFields.Data].IsNull ? "" : entry[EntryFields.Data],
            EntryFields.Error, error,
            EntryFields.SourceEntryId, entry.Id,
            EntryFields.Deliveries, deliveries,
            EntryFields.Group, _options.Group,
        };
        // The trace context travels on, so the dead letter can be found from the item's trace.
        foreach (var name in new[] { EntryFields.TraceParent, EntryFields.TraceState })
        {
            var value = entry[name];
            if (!value.IsNull)
            {
                args.Add(name);
                args.Add(value);
            }
        }
        var acked = (long)await _db.ScriptEvaluateAsync(DeadLetterScript, [_stream.Key, _stream.DeadLetterKey], [.. args]).ConfigureAwait(false);
        if (acked == 1)
        {
            StreamsTelemetry.DeadLettered.Add(1, _tags);
        }
    }
}
