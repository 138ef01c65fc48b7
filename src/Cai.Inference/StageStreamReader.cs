using System.Text.Json;
using Cai.Streams;
using StackExchange.Redis;

namespace Cai.Inference;

/// <summary>
/// Reads every item of a run's stream from the beginning (XRANGE, page by page), outside any consumer group: what a
/// training stage does when it takes a finished stage's whole output (e.g. SFT reading all revisions). Items are
/// returned once per item id, in stream order.
/// </summary>
public static class StageStreamReader
{
    /// <summary>All items currently in <paramref name="stream"/>.</summary>
    /// <exception cref="InvalidDataException">An entry has no data field or its JSON does not parse (names the entry).</exception>
    public static async Task<IReadOnlyList<T>> ReadAllAsync<T>(IDatabaseAsync db, ItemStream<T> stream, int pageSize = 1000,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(stream);
        var items = new List<T>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        RedisValue from = "-";
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await db.StreamRangeAsync(stream.Key, from, "+", pageSize).ConfigureAwait(false);
            foreach (var entry in page)
            {
                var data = entry[EntryFields.Data];
                if (data.IsNullOrEmpty) throw new InvalidDataException($"{stream.Key} entry {entry.Id} has no '{EntryFields.Data}' field");
                T item;
                try
                {
                    item = JsonSerializer.Deserialize<T>(data.ToString(), stream.Json)
                        ?? throw new InvalidDataException($"{stream.Key} entry {entry.Id}: the data is null");
                }
                catch (JsonException ex)
                {
                    throw new InvalidDataException($"{stream.Key} entry {entry.Id}: {ex.Message}", ex);
                }
                if (seen.Add(stream.ItemIdOf(item))) items.Add(item);
            }
            if (page.Length < pageSize) return items;
            // Exclusive start after the last entry read.
            from = "(" + page[^1].Id;
        }
    }
}
