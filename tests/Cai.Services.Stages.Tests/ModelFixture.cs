namespace Cai.Services.Stages.Tests;

/// <summary>An artifacts root holding one tiny policy ("policy"), shared by the tests of a class.</summary>
public sealed class ModelFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-stages-tests", Guid.NewGuid().ToString("N"));

    public string Policy => Path.Combine(Root, "policy");

    public ModelFixture() => TinyModel.Write(Policy, seed: 7);

    /// <summary>Settings every stage server of the tests shares: this root as the artifacts root, in-process models.</summary>
    public Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?> { ["Cai:ArtifactsRoot"] = Root };
        foreach (var (key, value) in extra) settings[key] = value;
        return settings;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
