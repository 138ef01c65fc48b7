using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cai.Training.Ppo;

/// <summary>
/// What a resumed PPO run needs besides weights and optimizer moments, written as
/// <c>ppo_state.json</c> in each <c>checkpoint-{iteration}</c> folder and beside the final model.
/// Prompt order, rollout seeds and minibatch order are pure functions of (seed, iteration), so the
/// iteration is the whole random state; beta is the KL controller's state. The fingerprints refuse
/// a resume with other prompts or other options, which could not continue the same run.
/// </summary>
public sealed record PpoState
{
    public const string FileName = "ppo_state.json";
    public const string CheckpointPrefix = "checkpoint-";
    public const string ValueDirectory = "value";
    public const string PolicyOptimizerFile = "optimizer.bin";
    public const string ValueOptimizerFile = "value_optimizer.bin";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Stage { get; init; } = "ppo";

    /// <summary>Iterations completed.</summary>
    public required int Iteration { get; init; }
    public required int TotalIterations { get; init; }

    /// <summary>beta after the last completed iteration's controller update.</summary>
    public required double KlCoefficient { get; init; }
    public required ulong Seed { get; init; }
    public required int PromptCount { get; init; }

    /// <summary>SHA-256 of the prompts' token ids.</summary>
    public required string PromptFingerprint { get; init; }

    /// <summary>SHA-256 of the options that shape the run (everything but the iteration count and checkpoint settings).</summary>
    public required string OptionsFingerprint { get; init; }

    public void Save(string directory) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    public static PpoState Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No {FileName} in checkpoint {directory}.", path);
        try
        {
            return JsonSerializer.Deserialize<PpoState>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty PPO state.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed PPO state: {e.Message}", e);
        }
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first field in which this saved state cannot continue <paramref name="now"/>.</summary>
    public void EnsureContinues(PpoState now, string checkpoint)
    {
        Check("stage", Stage, now.Stage);
        Check("seed", Seed, now.Seed);
        Check("prompt_count", PromptCount, now.PromptCount);
        Check("prompt_fingerprint", PromptFingerprint, now.PromptFingerprint);
        Check("options_fingerprint", OptionsFingerprint, now.OptionsFingerprint);
        if (Iteration < 0 || Iteration > now.TotalIterations)
            throw new InvalidOperationException($"{checkpoint}: iteration {Iteration} is outside [0, {now.TotalIterations}] (Iterations now).");

        void Check<T>(string field, T saved, T current)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, current))
                throw new InvalidOperationException($"{checkpoint}: cannot resume: {field} was {saved} when the checkpoint was written but is {current} now. " +
                    "Use the same prompts and options, or a fresh output folder.");
        }
    }

    /// <summary>Complete checkpoint folders (with a state file), oldest first.</summary>
    public static IReadOnlyList<(int Iteration, string Directory)> Checkpoints(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory)) return [];
        var result = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories(outputDirectory, CheckpointPrefix + "*"))
            if (int.TryParse(Path.GetFileName(dir).AsSpan(CheckpointPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                && File.Exists(Path.Combine(dir, FileName)))
                result.Add((i, dir));
        return result.OrderBy(x => x.Item1).ToList();
    }
}
