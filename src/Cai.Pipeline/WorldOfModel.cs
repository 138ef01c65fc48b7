using System.Text.Json;
using Cai.World;

namespace Cai.Pipeline;

/// <summary>
/// The synthetic world a bootstrapped model was trained on, from the <c>bootstrap.json</c> that <c>cai bootstrap</c>
/// writes beside it ("world": "default" or "small", "world_seed"). A model without that file (a real checkpoint)
/// gets the default world: the world then serves only for prompts and evaluation.
/// </summary>
public static class WorldOfModel
{
    /// <summary>The world's options for <paramref name="modelDirectory"/>.</summary>
    /// <exception cref="InvalidDataException">bootstrap.json names an unknown world or does not parse.</exception>
    public static WorldOptions OptionsOf(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, "bootstrap.json");
        if (!File.Exists(path)) return new WorldOptions();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            string name = root.TryGetProperty("world", out var w) && w.ValueKind == JsonValueKind.String ? w.GetString()! : "default";
            var options = WorldOptions.Preset(name)
                ?? throw new InvalidDataException($"{path}: unknown world '{name}' (expected {string.Join(" or ", WorldOptions.PresetNames)})");
            return root.TryGetProperty("world_seed", out var s) && s.ValueKind == JsonValueKind.Number ? options with { Seed = s.GetInt32() } : options;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Generates the world of <paramref name="modelDirectory"/>.</summary>
    public static SyntheticWorld Generate(string modelDirectory, CancellationToken cancellationToken = default) =>
        SyntheticWorld.Generate(OptionsOf(modelDirectory), cancellationToken);
}
