using System.Diagnostics;
using StackExchange.Redis;

namespace Cai.Streams;

/// <summary>The outcome of publishing one item.</summary>
/// <param name="ItemId">The item id.</param>
/// <param name="EntryId">The stream entry id holding the item (the earlier one when the item was already published).</param>
/// <param name="Added"><see langword="false"/> when the item id had already been published: nothing was written.</param>
public readonly record struct PublishResult(string ItemId, string EntryId, bool Added);

/// <summary>
/// Publishes the items of one stage for the next (e.g. the critique worker publishing revisions
/// for SFT). Publishing is idempotent by item id, so a stage that crashes and republishes its
/// output never duplicates work; each entry carries the W3C trace context of the publisher; and
/// publishing waits while a consumer group's lag is at <see cref="StreamProducerOptions.MaxLag"/>.
/// Thread-safe.
/// </summary>
public sealed class StreamProducer<T>
{
    // XADD and the id record happen in one script so that no crash between them can leave an
    // item published without its id (a later duplicate) or an id without its entry (a lost item).
    private const string PublishScript = """
        local existing = redis.call('HGET', KEYS[2], ARGV[1])
        if existing then
          return {0, existing}
        end
        local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
        redis.call('HSET', KEYS[2], ARGV[1], id)
        return {1, id}
        """;

    private readonly IDatabaseAsync _db;
    private readonly ItemStream<T> _stream;
    private readonly StreamProducerOptions _options;
    private readonly SemaphoreSlim _creditLock = new(1, 1);
    private long _credit;
    private volatile bool _groupsReady;

    /// <param name="db">The Redis database.</param>
    /// <param name="stream">The stream to publish to.</param>
    /// <param name="options">Backpressure options; defaults when <see langword="null"/>.</param>
    public StreamProducer(IDatabaseAsync db, ItemStream<T> stream, StreamProducerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(stream);
        _options = options ?? new StreamProducerOptions();
        _options.Validate();
        _db = db;
        _stream = stream;
    }

    /// <summary>The stream published to.</summary>
    public ItemStream<T> Stream => _stream;

    /// <summary>Publishes one item (waiting first while backpressure applies).</summary>
    public async Task<PublishResult> PublishAsync(T item, CancellationToken cancellationToken = default)
    {
        var results = await PublishManyAsync([item], cancellationToken).ConfigureAwait(false);
        return results[0];
    }

    /// <summary>
    /// Publishes items in order, pipelined in chunks that fit the current lag credit; waits
    /// (cancellably) whenever the credit is used up and the watched lag is at its bound.
    /// </summary>
    public async Task<IReadOnlyList<PublishResult>> PublishManyAsync(IEnumerable<T> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        // Ids are taken before anything is written so a bad item fails the call up front.
        var pending = items.Select(item => (Id: _stream.ItemIdOf(item), Item: item)).ToList();
        await EnsureGroupsAsync().ConfigureAwait(false);
        var results = new List<PublishResult>(pending.Count);
        var next = 0;
        while (next < pending.Count)
        {
            var take = (int)Math.Min(await AcquireCreditAsync(pending.Count - next, cancellationToken).ConfigureAwait(false), pending.Count - next);
            var chunk = pending.GetRange(next, take).Select(p => PublishOneAsync(p.Id, p.Item)).ToArray();
            results.AddRange(await Task.WhenAll(chunk).ConfigureAwait(false));
            next += take;
        }
        return results;
    }

    /// <summary>
    /// Waits until every watched group's lag is below <see cref="StreamProducerOptions.MaxLag"/>.
    /// Returns at once when there is no bound.
    /// </summary>
    public async Task WaitForCapacityAsync(CancellationToken cancellationToken = default)
    {
        if (_options.MaxLag is null)
        {
            return;
        }
        await _creditLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _credit = await WaitForCreditAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _creditLock.Release();
        }
    }

    /// <summary>
    /// Creates the watched groups before anything is published: a group that exists sees every
    /// entry, and trimming (which only looks at existing groups) cannot remove entries it has not read.
    /// </summary>
    private async Task EnsureGroupsAsync()
    {
        if (_groupsReady || _options.Groups is not { } groups)
        {
            return;
        }
        foreach (var group in groups)
        {
            await _db.EnsureConsumerGroupAsync(_stream.Key, group).ConfigureAwait(false);
        }
        _groupsReady = true;
    }

    private async Task<long> AcquireCreditAsync(long wanted, CancellationToken cancellationToken)
    {
        if (_options.MaxLag is null)
        {
            return wanted;
        }
        await _creditLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Credit = how many more entries keep the lag within the bound, counted from the last
            // look at the groups; it saves an XINFO round trip per publish.
            if (_credit <= 0)
            {
                _credit = await WaitForCreditAsync(cancellationToken).ConfigureAwait(false);
            }
            var granted = Math.Min(_credit, wanted);
            _credit -= granted;
            return granted;
        }
        finally
        {
            _creditLock.Release();
        }
    }

    private async Task<long> WaitForCreditAsync(CancellationToken cancellationToken)
    {
        var bound = _options.MaxLag!.Value;
        var waited = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var lag = await _db.GetMaxLagAsync(_stream.Key, _options.Groups, bound).ConfigureAwait(false);
            if (lag < bound)
            {
                return bound - lag;
            }
            if (!waited)
            {
                waited = true;
                StreamsTelemetry.BackpressureWaits.Add(1, StreamsTelemetry.StreamTag(_stream.Name));
            }
            await Task.Delay(_options.LagPollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<PublishResult> PublishOneAsync(string itemId, T item)
    {
        using var activity = StreamsTelemetry.ActivitySource.StartActivity($"{_stream.Name} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.operation.type", "send");
        activity?.SetTag("messaging.destination.name", _stream.Key);
        activity?.SetTag("cai.streams.item_id", itemId);

        var fields = new List<NameValueEntry>(4)
        {
            new(EntryFields.ItemId, itemId),
            new(EntryFields.Data, _stream.Serialize(item)),
        };
        // Without a listener on Cai.Streams there is no publish span: pass on the caller's context.
        EntryFields.InjectTraceContext(activity ?? Activity.Current, fields);

        var args = new RedisValue[1 + 2 * fields.Count];
        args[0] = itemId;
        for (var i = 0; i < fields.Count; i++)
        {
            args[1 + 2 * i] = fields[i].Name;
            args[2 + 2 * i] = fields[i].Value;
        }
        var reply = (RedisResult[])(await _db.ScriptEvaluateAsync(PublishScript, [_stream.Key, _stream.ItemIdsKey], args).ConfigureAwait(false))!;
        var added = (long)reply[0] == 1;
        var entryId = reply[1].ToString();
        activity?.SetTag("messaging.message.id", entryId);
        activity?.SetTag("cai.streams.duplicate", !added);
        (added ? StreamsTelemetry.Published : StreamsTelemetry.Duplicates).Add(1, StreamsTelemetry.StreamTag(_stream.Name));
        return new PublishResult(itemId, entryId, added);
    }
}
