using System.Diagnostics;
using System.Text.Json;
using StackExchange.Redis;

namespace Cai.Streams;

/// <summary>
/// A typed stream of work items between two CAI stages (e.g. red-team prompts going to the
/// critique/revision worker, or sample pairs going to the AI-feedback labeler). Each item is a
/// JSON-serialised record with a string item id; the id makes publishing idempotent.
/// </summary>
/// <typeparam name="T">The record carried by the stream.</typeparam>
public sealed class ItemStream<T>
{
    private readonly Func<T, string> _itemIdOf;

    /// <param name="key">The Redis key of the stream (see <see cref="StreamKeys.ForRun"/>).</param>
    /// <param name="itemIdOf">Returns the stable id of an item (e.g. the prompt id); republishing the same id is a no-op.</param>
    /// <param name="json">Serializer options; defaults to <see cref="JsonSerializerOptions.Web"/> (camelCase).</param>
    /// <param name="name">The run-independent name used in span names and metric tags (default: the key).</param>
    public ItemStream(string key, Func<T, string> itemIdOf, JsonSerializerOptions? json = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(itemIdOf);
        Key = key;
        Name = string.IsNullOrWhiteSpace(name) ? key : name;
        DeadLetterKey = StreamKeys.DeadLetter(key);
        ItemIdsKey = StreamKeys.ItemIds(key);
        _itemIdOf = itemIdOf;
        Json = json ?? JsonSerializerOptions.Web;
    }

    /// <summary>The stream <paramref name="name"/> of run <paramref name="runId"/> (key <c>cai:{runId}:name</c>).</summary>
    public static ItemStream<T> ForRun(string runId, string name, Func<T, string> itemIdOf, JsonSerializerOptions? json = null) =>
        new(StreamKeys.ForRun(runId, name), itemIdOf, json, name);

    /// <summary>
    /// The stream's name without the run (e.g. "revisions"): span names and metric tags use it so
    /// that dashboards do not get one series per run.
    /// </summary>
    public string Name { get; }

    /// <summary>The stream key.</summary>
    public string Key { get; }

    /// <summary>Where entries go after too many failed deliveries: <c>{Key}:dead</c>.</summary>
    public string DeadLetterKey { get; }

    /// <summary>The hash of published item ids: <c>{Key}:ids</c>.</summary>
    public string ItemIdsKey { get; }

    /// <summary>The serializer options used for the <c>data</c> field.</summary>
    public JsonSerializerOptions Json { get; }

    /// <summary>The item id of <paramref name="item"/>, validated (non-empty).</summary>
    public string ItemIdOf(T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var id = _itemIdOf(item);
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new ArgumentException($"The item id selector of stream '{Key}' returned an empty id for a {typeof(T).Name}.", nameof(item));
        }
        return id;
    }

    internal string Serialize(T item) => JsonSerializer.Serialize(item, Json);

    /// <summary>Decodes an entry; returns an error text instead of throwing for malformed entries (they are dead-lettered).</summary>
    internal bool TryDecode(StreamEntry entry, out string itemId, out T value, out ActivityContext parent, out string error)
    {
        itemId = entry[EntryFields.ItemId].ToString();
        value = default!;
        parent = EntryFields.ExtractTraceContext(entry);
        var data = entry[EntryFields.Data];
        if (string.IsNullOrEmpty(itemId))
        {
            error = $"entry {entry.Id} of '{Key}' has no '{EntryFields.ItemId}' field";
            return false;
        }
        if (data.IsNull)
        {
            error = $"entry {entry.Id} of '{Key}' has no '{EntryFields.Data}' field";
            return false;
        }
        try
        {
            var decoded = JsonSerializer.Deserialize<T>(data.ToString(), Json);
            if (decoded is null)
            {
                error = $"entry {entry.Id} of '{Key}': '{EntryFields.Data}' is JSON null";
                return false;
            }
            value = decoded;
            error = "";
            return true;
        }
        catch (JsonException ex)
        {
            error = $"entry {entry.Id} of '{Key}': '{EntryFields.Data}' is not a valid {typeof(T).Name}: {ex.Message}";
            return false;
        }
    }
}
