using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cai.Reporting;

/// <summary>
/// What makes two runs the same experiment: their config.json with the seed left out (and the artifacts root, which
/// says where a run is kept, not what it does). Key names are compared without case, objects without key order.
/// </summary>
public static class ComparisonKey
{
    /// <summary>Top-level configuration keys that do not define the experiment (compared case-insensitively).</summary>
    public static readonly IReadOnlyList<string> Ignored = ["Seed", "ArtifactsRoot"];

    /// <summary>The canonical text of <paramref name="config"/> without the ignored keys, or null without a configuration.</summary>
    public static string? Key(JsonObject? config) =>
        config is null ? null : Canonical(Without(config))!.ToJsonString();

    /// <summary>The run seed in <paramref name="config"/> ("Seed" or "seed"), or null.</summary>
    public static ulong? Seed(JsonObject? config)
    {
        var node = config?.FirstOrDefault(p => string.Equals(p.Key, "seed", StringComparison.OrdinalIgnoreCase)).Value;
        if (node is not JsonValue value) return null;
        if (value.TryGetValue(out ulong u)) return u;
        if (value.TryGetValue(out long l) && l >= 0) return (ulong)l;
        if (value.TryGetValue(out JsonElement e))
        {
            if (e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out u)) return u;
            if (e.ValueKind == JsonValueKind.String && ulong.TryParse(e.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out u)) return u;
        }

        return value.TryGetValue(out string? s) && ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out u) ? u : null;
    }

    /// <summary>Every leaf of the configuration (ignored keys left out) as "Section:Key" -> JSON text, e.g. "Ppo:Iterations" -> "60".</summary>
    public static IReadOnlyDictionary<string, string> Flatten(JsonObject? config)
    {
        var result = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (config is not null) Walk(Without(config), "", result);
        return result;
    }

    private static void Walk(JsonNode? node, string prefix, IDictionary<string, string> into)
    {
        if (node is JsonObject o && o.Count > 0)
        {
            foreach (var (key, value) in o) Walk(value, prefix.Length == 0 ? key : $"{prefix}:{key}", into);
        }
        else
        {
            into[prefix] = node?.ToJsonString() ?? "null";
        }
    }

    private static JsonObject Without(JsonObject config) =>
        new(config.Where(p => !Ignored.Any(i => string.Equals(i, p.Key, StringComparison.OrdinalIgnoreCase)))
            .Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));

    /// <summary>The node with object keys sorted (ordinal, case-insensitive) and lower-cased, recursively.</summary>
    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)
            .Select(p => KeyValuePair.Create(p.Key.ToLowerInvariant(), Canonical(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Canonical)]),
        null => null,
        _ => node.DeepClone(),
    };
}
