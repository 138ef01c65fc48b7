using Cai.Core.Configuration;
using System.Text.Json;

namespace Cai.Core.Tests;

public sealed class RunFolderTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cai-runfolder-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void A_new_run_keeps_its_resolved_configuration_and_provenance()
    {
        string repo = Path.Combine(_root, "repo");
        Directory.CreateDirectory(Path.Combine(repo, "constitutions"));
        File.WriteAllText(Path.Combine(repo, "constitutions", "default.yaml"), "name: x\n");
        Directory.CreateDirectory(Path.Combine(repo, "models", "base"));
        File.WriteAllText(Path.Combine(repo, "models", "base", "config.json"), "{}");

        var config = RunConfiguration.Smoke with { Seed = 7 };
        var run = RunFolder.CreateOrOpen(Path.Combine(_root, "runs"), "run-1", config, repo, ["models/base", "absent.bin"]);

        Assert.Equal(config.ToJson(), File.ReadAllText(Path.Combine(run.Path, RunFolder.ConfigFile)));
        using var provenance = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Path, RunFolder.ProvenanceFile)));
        var hashes = provenance.RootElement.GetProperty("file_hashes");
        // SHA-256 of "{}" and of "name: x\n", computed independently of the code under test.
        Assert.Equal("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", hashes.GetProperty(Path.Combine("models/base", "config.json")).GetString());
        Assert.Equal(64, hashes.GetProperty("constitutions/default.yaml").GetString()!.Length);
        Assert.Equal("missing", hashes.GetProperty("absent.bin").GetString());
        Assert.Equal(7UL, provenance.RootElement.GetProperty("seed").GetUInt64());
        Assert.Equal(config.DeriveSeed("ppo"), provenance.RootElement.GetProperty("stage_seeds").GetProperty("ppo").GetUInt64());
    }

    [Fact]
    public void Reopening_with_the_same_configuration_keeps_the_first_provenance_and_a_different_one_is_refused()
    {
        var config = RunConfiguration.Smoke;
        var first = RunFolder.CreateOrOpen(_root, "run-2", config, _root);
        var again = RunFolder.CreateOrOpen(_root, "run-2", config, _root);
        Assert.Equal(first.Provenance.CreatedUtc, again.Provenance.CreatedUtc);

        var ex = Assert.Throws<InvalidOperationException>(() =>
            RunFolder.CreateOrOpen(_root, "run-2", config with { Seed = config.Seed + 1 }, _root));
        Assert.Contains("different configuration", ex.Message);
    }

    [Fact]
    public void A_bad_run_id_is_refused_naming_the_parameter()
    {
        var ex = Assert.Throws<ArgumentException>(() => RunFolder.CreateOrOpen(_root, "../escape", RunConfiguration.Smoke, _root));
        Assert.Equal("runId", ex.ParamName);
    }
}
