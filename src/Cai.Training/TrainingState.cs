using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cai.Training;

/// <summary>
/// Everything besides weights and optimizer moments that a resumed run needs to continue exactly
/// where it stopped, written as <c>trainer_state.json</c> in each <c>checkpoint-{step}</c> folder.
/// The data order is a pure function of (seed, step), so the step is the data cursor; the epoch and
/// example cursor are recorded for people reading the file. The shape fields guard against resuming
/// with different data or batch settings, which could not continue the same run.
/// </summary>
public sealed record TrainingState
{
    public const string FileName = "trainer_state.json";
    public const string OptimizerFileName = "optimizer.bin";
    public const string CheckpointPrefix = "checkpoint-";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The stage that wrote it ("sft", "preference-model").</summary>
    public required string Stage { get; init; }

    /// <summary>Optimizer steps completed.</summary>
    public required int GlobalStep { get; init; }
    public required int TotalSteps { get; init; }

    /// <summary>The epoch the next step belongs to and the position of its first example in that epoch's permutation.</summary>
    public required int Epoch { get; init; }
    public required int ExampleCursor { get; init; }

    /// <summary>Seed of the data-order shuffles.</summary>
    public required ulong Seed { get; init; }
    public required int ExampleCount { get; init; }

    /// <summary>SHA-256 of the encoded training items: a resume with different data is refused.</summary>
    public required string DataFingerprint { get; init; }
    public required int BatchSize { get; init; }
    public required int GradientAccumulationSteps { get; init; }
    public required int Epochs { get; init; }
    public required string ComputeDtype { get; init; }

    /// <summary>Loss of the last completed step.</summary>
    public double LastLoss { get; init; }

    public void Save(string directory) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    public static TrainingState Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"No {FileName} in checkpoint {directory}.", path);
        try
        {
            return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty training state.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed training state: {e.Message}", e);
        }
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first field in which
    /// <paramref name="expected"/> (this run) differs from this saved state.</summary>
    public void EnsureContinues(TrainingState expected, string checkpoint)
    {
        Check("stage", Stage, expected.Stage);
        Check("seed", Seed, expected.Seed);
        Check("example_count", ExampleCount, expected.ExampleCount);
        Check("data_fingerprint", DataFingerprint, expected.DataFingerprint);
        Check("batch_size", BatchSize, expected.BatchSize);
        Check("gradient_accumulation_steps", GradientAccumulationSteps, expected.GradientAccumulationSteps);
        Check("epochs", Epochs, expected.Epochs);
        Check("total_steps", TotalSteps, expected.TotalSteps);
        Check("compute_dtype", ComputeDtype, expected.ComputeDtype);
        if (GlobalStep < 0 || GlobalStep > TotalSteps)
            throw new InvalidOperationException($"{checkpoint}: global_step {GlobalStep} is outside [0, {TotalSteps}].");

        void Check<T>(string field, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
                throw new InvalidOperationException(
                    $"{checkpoint}: cannot resume: {field} was {saved} when the checkpoint was written but is {now} now. " +
                    "Use the same data and options, or a fresh output folder.");
        }
    }

    /// <summary>The newest complete <c>checkpoint-{step}</c> folder under <paramref name="outputDirectory"/>, or null.</summary>
    public static string? LatestCheckpoint(string outputDirectory) =>
        Checkpoints(outputDirectory).LastOrDefault().Directory;

    /// <summary>Complete checkpoint folders (those with a state file), oldest first.</summary>
    public static IReadOnlyList<(int Step, string Directory)> Checkpoints(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory)) return [];
        return Directory.EnumerateDirectories(outputDirectory, CheckpointPrefix + "*")
            .Select(d => (Name: Path.GetFileName(d), Directory: d))
            .Where(x => int.TryParse(x.Name.AsSpan(CheckpointPrefix.Length), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out _) && File.Exists(Path.Combine(x.Directory, FileName)))
            .Select(x => (int.Parse(x.Name.AsSpan(CheckpointPrefix.Length), System.Globalization.CultureInfo.InvariantCulture), x.Directory))
            .OrderBy(x => x.Item1)
            .ToList();
    }
}
