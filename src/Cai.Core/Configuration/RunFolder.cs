using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cai.Core.Configuration;

/// <summary>Where a run's inputs came from: enough to reproduce it or to tell two runs apart.</summary>
public sealed record RunProvenance(
    string RunId,
    DateTimeOffset CreatedUtc,
    string? GitCommit,
    bool? GitDirty,
    ulong Seed,
    IReadOnlyDictionary<string, ulong> StageSeeds,
    IReadOnlyDictionary<string, string> FileHashes,
    string Machine,
    string Runtime);

/// <summary>
/// One folder per run under the artifacts root. On creation it keeps the resolved configuration
/// (config.json) and its provenance (provenance.json: commit, seeds, SHA-256 of the constitution and
/// of every checkpoint file the run starts from). Re-opening an existing run refuses a different
/// configuration rather than silently mixing two.
/// </summary>
public sealed class RunFolder
{
    public const string ConfigFile = "config.json";
    public const string ProvenanceFile = "provenance.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private RunFolder(string path, RunConfiguration configuration, RunProvenance provenance)
    {
        Path = path;
        Configuration = configuration;
        Provenance = provenance;
    }

    public string Path { get; }
    public RunConfiguration Configuration { get; }
    public RunProvenance Provenance { get; }

    /// <summary>A stage's folder inside the run (created on demand), e.g. "sft" or "ppo".</summary>
    public string StageDirectory(string stage)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stage);
        string dir = System.IO.Path.Combine(Path, stage);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Creates the run folder, or re-opens it when it exists with the same configuration.
    /// <paramref name="inputs"/> are files or model folders the run starts from; paths are relative
    /// to <paramref name="repositoryRoot"/> unless absolute. Missing inputs are recorded as "missing".
    /// </summary>
    public static RunFolder CreateOrOpen(string artifactsRoot, string runId, RunConfiguration configuration,
        string repositoryRoot, IEnumerable<string>? inputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(artifactsRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        if (runId.IndexOfAny(System.IO.Path.GetInvalidFileNameChars()) >= 0 || runId.Contains(".."))
            throw new ArgumentException($"Run id '{runId}' is not a valid folder name.", nameof(runId));
        var errors = configuration.Validate();
        if (errors.Count > 0)
            throw new ArgumentException("Invalid run configuration: " + string.Join("; ", errors), nameof(configuration));

        string path = System.IO.Path.Combine(artifactsRoot, runId);
        string configPath = System.IO.Path.Combine(path, ConfigFile);
        string provenancePath = System.IO.Path.Combine(path, ProvenanceFile);
        string configJson = configuration.ToJson();
        if (File.Exists(configPath))
        {
            string existing = File.ReadAllText(configPath);
            if (existing != configJson)
                throw new InvalidOperationException(
                    $"Run '{runId}' already exists in {path} with a different configuration; use a new run id or the same configuration.");
            var kept = JsonSerializer.Deserialize<RunProvenance>(File.ReadAllText(provenancePath), Json)
                       ?? throw new InvalidDataException($"{provenancePath} is empty.");
            return new RunFolder(path, configuration, kept);
        }

        Directory.CreateDirectory(path);
        var hashes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string input in (inputs ?? []).Append(configuration.ConstitutionPath).Distinct())
        {
            string full = System.IO.Path.IsPathRooted(input) ? input : System.IO.Path.Combine(repositoryRoot, input);
            if (File.Exists(full)) hashes[input] = Sha256(full);
            else if (Directory.Exists(full))
                foreach (string file in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    hashes[System.IO.Path.Combine(input, System.IO.Path.GetRelativePath(full, file))] = Sha256(file);
            else hashes[input] = "missing";
        }
        var stageSeeds = new[] { "sl-cai", "sft", "labels", "preference-model", "ppo", "evaluation" }
            .ToDictionary(s => s, configuration.DeriveSeed);
        var (commit, dirty) = GitState(repositoryRoot);
        var provenance = new RunProvenance(runId, DateTimeOffset.UtcNow, commit, dirty, configuration.Seed, stageSeeds,
            hashes, Environment.MachineName, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
        File.WriteAllText(configPath, configJson);
        File.WriteAllText(provenancePath, JsonSerializer.Serialize(provenance, Json));
        return new RunFolder(path, configuration, provenance);
    }

    private static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The repository's HEAD commit and whether the tree has changes; nulls when git is unavailable.</summary>
    private static (string? Commit, bool? Dirty) GitState(string repositoryRoot)
    {
        string? commit = RunGit(repositoryRoot, "rev-parse HEAD");
        if (commit is null) return (null, null);
        string? status = RunGit(repositoryRoot, "status --porcelain --untracked-files=no");
        return (commit, status is null ? null : status.Length > 0);
    }

    private static string? RunGit(string workingDirectory, string arguments)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", arguments)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (git is null) return null;
            string output = git.StandardOutput.ReadToEnd().Trim();
            if (!git.WaitForExit(TimeSpan.FromSeconds(10))) { git.Kill(); return null; }
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git is not installed
        }
    }
}
