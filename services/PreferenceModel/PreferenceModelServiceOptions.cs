using Cai.Modeling.Precision;
using Cai.Training.PreferenceModel;
using static TorchSharp.torch;

namespace Cai.Services.PreferenceModel;

/// <summary>
/// Settings of the preference-model service (configuration section <c>PreferenceModel</c>): training defaults a
/// <c>Train</c> request falls back to when it leaves a field at 0, how loaded PMs are kept for <c>Score</c>, and
/// where relative paths resolve.
/// </summary>
public sealed record PreferenceModelServiceOptions
{
    /// <summary>Where relative model, output and data paths resolve: <c>Cai:ArtifactsRoot</c>, else the current directory.</summary>
    public string ArtifactsRoot { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Training defaults; <see cref="Cai.Training.TrainingOptions.ContextLength"/> and <see cref="PmOptions.AppendEos"/>
    /// are also how Score and Evaluate encode dialogues (they must match training).</summary>
    public PmOptions Defaults { get; init; } = new() { CheckpointEvery = 50 };

    /// <summary>Preference models kept loaded for Score/Evaluate (least recently used evicted).</summary>
    public int MaxLoadedModels { get; init; } = 2;

    /// <summary>Dialogues per forward pass when scoring.</summary>
    public int ScoreBatchSize { get; init; } = 32;

    /// <summary>Most texts one Score request may carry.</summary>
    public int MaxScoreTexts { get; init; } = 4096;

    /// <summary>Bins of the reliability diagram and of the ECE.</summary>
    public int CalibrationBins { get; init; } = 10;

    /// <summary>libtorch intra-op threads for training; 0 keeps libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Precision of the models Score and Evaluate load, from <c>PreferenceModel:ScoreDtype</c>: "f32", "bf16" or "auto"
    /// (bf16 where a start-up matmul check finds it faster; scores are read in float32). Code default "f32"; the
    /// service's appsettings.json sets "auto". Training precision is the request's <c>bf16</c>.
    /// </summary>
    public ScalarType ScoreDtype { get; init; } = ScalarType.Float32;

    /// <summary>Reads section <c>PreferenceModel</c>; a bad value is refused naming its key.</summary>
    public static PreferenceModelServiceOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection("PreferenceModel");
        var defaults = new PreferenceModelServiceOptions();
        var d = defaults.Defaults;
        var options = new PreferenceModelServiceOptions
        {
            ArtifactsRoot = configuration["Cai:ArtifactsRoot"] ?? defaults.ArtifactsRoot,
            MaxLoadedModels = section.GetValue("MaxLoadedModels", defaults.MaxLoadedModels),
            ScoreBatchSize = section.GetValue("ScoreBatchSize", defaults.ScoreBatchSize),
            MaxScoreTexts = section.GetValue("MaxScoreTexts", defaults.MaxScoreTexts),
            CalibrationBins = section.GetValue("CalibrationBins", defaults.CalibrationBins),
            Threads = section.GetValue("Threads", defaults.Threads),
            Defaults = d with
            {
                Epochs = section.GetValue("Epochs", d.Epochs),
                LearningRate = section.GetValue("LearningRate", d.LearningRate),
                BatchSize = section.GetValue("BatchSize", d.BatchSize),
                WarmupSteps = section.GetValue("WarmupSteps", d.WarmupSteps),
                CheckpointEvery = section.GetValue("CheckpointEvery", d.CheckpointEvery),
                ContextLength = section.GetValue("ContextLength", d.ContextLength),
                HelpfulMixRatio = section.GetValue("HelpfulRatio", d.HelpfulMixRatio),
            },
        };
        var errors = options.Defaults.Validate().Select(e => "PreferenceModel:" + e).ToList();
        if (options.MaxLoadedModels < 1) errors.Add("PreferenceModel:MaxLoadedModels must be >= 1");
        if (options.ScoreBatchSize < 1) errors.Add("PreferenceModel:ScoreBatchSize must be >= 1");
        if (options.MaxScoreTexts < 1) errors.Add("PreferenceModel:MaxScoreTexts must be >= 1");
        if (options.CalibrationBins < 1) errors.Add("PreferenceModel:CalibrationBins must be >= 1");
        if (options.Threads < 0) errors.Add("PreferenceModel:Threads must be >= 0");
        string scoreDtype = section["ScoreDtype"] ?? "f32";
        var resolved = PrecisionAdvisor.Resolve(scoreDtype);
        if (resolved is null) errors.Add($"PreferenceModel:ScoreDtype must be one of {string.Join(", ", PrecisionAdvisor.SettingNames)} (got \"{scoreDtype}\")");
        return errors.Count == 0 ? options with { ScoreDtype = resolved!.Value } : throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", errors));
    }

    /// <summary>A path from a request: absolute, or relative to <see cref="ArtifactsRoot"/>.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(ArtifactsRoot, path));
}
