using Cai.World;

namespace Cai.Cli;

/// <summary>The world sizes cai knows by name: "default" (the embedded default, ~1.5M corpus tokens)
/// and "small" (a few seconds to generate, for tests and smoke runs).</summary>
internal static class WorldPresets
{
    public static readonly string[] Names = [.. WorldOptions.PresetNames];

    public static WorldOptions Get(string name, int? seed)
    {
        var options = WorldOptions.Preset(name)
            ?? throw new ArgumentException($"--world: unknown world '{name}' (known: {string.Join(", ", Names)}).", nameof(name));
        return seed is int s ? options with { Seed = s } : options;
    }
}
