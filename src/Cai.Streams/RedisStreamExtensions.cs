using StackExchange.Redis;

namespace Cai.Streams;

/// <summary>An entry of a dead-letter stream: an item that failed too many deliveries, with its last error.</summary>
/// <param name="EntryId">The id in the dead-letter stream.</param>
/// <param name="ItemId">The item id.</param>
/// <param name="Data">The item's JSON, as published.</param>
/// <param name="Error">The last error ("Type: message"), or why the entry was given up without a handler run.</param>
/// <param name="SourceEntryId">The entry id in the source stream.</param>
/// <param name="Deliveries">How many times it had been delivered.</param>
/// <param name="Group">The consumer group that gave up on it.</param>
public sealed record DeadLetter(string EntryId, string ItemId, string Data, string Error, string SourceEntryId, long Deliveries, string Group);

/// <summary>
/// Consumer-group housekeeping on an <see cref="IDatabaseAsync"/>: create groups, measure lag for
/// backpressure, trim only what every group has acknowledged, read dead letters.
/// </summary>
public static class RedisStreamExtensions
{
    // Trims below the oldest entry some group still needs: its oldest pending entry, or else its
    // last delivered entry (kept itself: the script never computes "next id", which would need
    // 64-bit arithmetic Lua numbers cannot do exactly). Done in one script so that no group can
    // be created or read between the look and the trim. Ids are compared as decimal strings.
    private const string TrimScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local function numless(a, b)
          if #a ~= #b then return #a < #b end
          return a < b
        end
        local function idless(a, b)
          local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
          local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
          if ams ~= bms then return numless(ams, bms) end
          return numless(aseq, bseq)
        end
        local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
        if #groups == 0 then return 0 end
        local keep = nil
        for _, g in ipairs(groups) do
          local name, last
          for i = 1, #g, 2 do
            if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
          end
          local summary = redis.call('XPENDING', KEYS[1], name)
          local needed = last
          if summary[1] > 0 then needed = summary[2] end
          if keep == nil or idless(needed, keep) then keep = needed end
        end
        return redis.call('XTRIM', KEYS[1], 'MINID', keep)
        """;

    // Checks and deletes in one script: a consumer that read entries between a separate look and
    // the delete would have its pending entries dropped from the group, i.e. never acked or retried.
    private const string RemoveIdleConsumersScript = """
        local removed = 0
        for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
          local name, pending, idle
          for i = 1, #c, 2 do
            if c[i] == 'name' then name = c[i + 1]
            elseif c[i] == 'pending' then pending = c[i + 1]
            elseif c[i] == 'idle' then idle = c[i + 1] end
          end
          if pending == 0 and idle >= tonumber(ARGV[2]) and name ~= ARGV[3] then
            redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
            removed = removed + 1
          end
        end
        return removed
        """;

    /// <summary>
    /// Removes the consumers of <paramref name="group"/> that have no pending entries and have been
    /// idle for at least <paramref name="minIdle"/> (except <paramref name="keep"/>). Safe against
    /// live consumers: one that reads again is simply recreated by Redis.
    /// </summary>
    /// <returns>The number of consumers removed.</returns>
    public static async Task<long> RemoveIdleConsumersAsync(this IDatabaseAsync db, string streamKey, string group, TimeSpan minIdle, string? keep = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrWhiteSpace(streamKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentOutOfRangeException.ThrowIfLessThan(minIdle, TimeSpan.Zero);
        var removed = await db.ScriptEvaluateAsync(RemoveIdleConsumersScript, [streamKey],
            [group, (long)minIdle.TotalMilliseconds, keep ?? ""]).ConfigureAwait(false);
        return (long)removed;
    }

    /// <summary>
    /// Creates consumer group <paramref name="group"/> on <paramref name="streamKey"/> if it does
    /// not exist (MKSTREAM: the stream is created empty if needed). New groups start at the
    /// beginning of the stream so that nothing published before a worker first started is skipped.
    /// </summary>
    /// <returns><see langword="true"/> when the group was created, <see langword="false"/> when it existed.</returns>
    public static async Task<bool> EnsureConsumerGroupAsync(this IDatabaseAsync db, string streamKey, string group)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrWhiteSpace(streamKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        try
        {
            return await db.StreamCreateConsumerGroupAsync(streamKey, group, StreamPosition.Beginning, createStream: true).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            return false;
        }
    }

    /// <summary>
    /// The lag of a consumer group: entries in the stream not yet delivered to it (XINFO GROUPS
    /// <c>lag</c>; when Redis cannot compute it, e.g. after XDEL, the entries after the group's
    /// last-delivered id are counted, up to <paramref name="cap"/>). A missing stream has lag 0;
    /// a missing group has the whole stream as its lag.
    /// </summary>
    public static async Task<long> GetLagAsync(this IDatabaseAsync db, string streamKey, string group, long cap = long.MaxValue)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        return await db.GetMaxLagAsync(streamKey, [group], cap).ConfigureAwait(false);
    }

    /// <summary>
    /// The largest lag among <paramref name="groups"/> (<see langword="null"/> = every group on the
    /// stream; 0 when there is none). See <see cref="GetLagAsync"/>.
    /// </summary>
    public static async Task<long> GetMaxLagAsync(this IDatabaseAsync db, string streamKey, IReadOnlyList<string>? groups, long cap = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrWhiteSpace(streamKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(cap, 1);
        StreamGroupInfo[] infos;
        try
        {
            infos = await db.StreamGroupInfoAsync(streamKey).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        long max = 0;
        if (groups is null)
        {
            foreach (var info in infos)
            {
                max = Math.Max(max, await LagOfAsync(db, streamKey, info, cap).ConfigureAwait(false));
            }
            return max;
        }
        foreach (var group in groups)
        {
            var info = infos.FirstOrDefault(i => i.Name == group);
            var lag = info.Name is null
                ? await db.StreamLengthAsync(streamKey).ConfigureAwait(false)
                : await LagOfAsync(db, streamKey, info, cap).ConfigureAwait(false);
            max = Math.Max(max, lag);
        }
        return max;
    }

    private static async Task<long> LagOfAsync(IDatabaseAsync db, string streamKey, StreamGroupInfo info, long cap)
    {
        if (info.Lag is { } lag)
        {
            return lag;
        }
        // Redis reports no lag when deletions make its counters unreliable: count instead, bounded.
        var count = (int)Math.Min(cap, int.MaxValue - 1);
        var after = await db.StreamRangeAsync(streamKey, "(" + info.LastDeliveredId, "+", count).ConfigureAwait(false);
        return after.Length;
    }

    /// <summary>
    /// Deletes the entries every consumer group has acknowledged (XTRIM MINID below the oldest
    /// entry still pending or undelivered in any group). Unconsumed or unacknowledged work is
    /// never removed, and a stream without groups is left alone. Item ids stay recorded, so a
    /// trimmed item republished by a restarted producer is still recognised as a duplicate.
    /// </summary>
    /// <returns>The number of entries removed.</returns>
    public static async Task<long> TrimAcknowledgedAsync(this IDatabaseAsync db, string streamKey)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrWhiteSpace(streamKey);
        var removed = await db.ScriptEvaluateAsync(TrimScript, [streamKey]).ConfigureAwait(false);
        return (long)removed;
    }

    /// <summary>Reads up to <paramref name="count"/> entries of dead-letter stream <paramref name="deadLetterKey"/>, oldest first.</summary>
    public static async Task<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(this IDatabaseAsync db, string deadLetterKey, int count = 1000)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrWhiteSpace(deadLetterKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var entries = await db.StreamRangeAsync(deadLetterKey, "-", "+", count).ConfigureAwait(false);
        return entries.Select(e => new DeadLetter(
            e.Id.ToString(),
            e[EntryFields.ItemId].ToString(),
            e[EntryFields.Data].ToString(),
            e[EntryFields.Error].ToString(),
            e[EntryFields.SourceEntryId].ToString(),
            (long)e[EntryFields.Deliveries],
            e[EntryFields.Group].ToString())).ToList();
    }
}
