using Cai.Training.Sft;

namespace Cai.Services.Sft;

/// <summary>
/// Settings of the sft service (configuration section <c>Sft</c>): the hyperparameters a <c>Train</c> request falls
/// back to when it leaves a field at 0, and where relative paths resolve.
/// </summary>
public sealed record SftServiceOptions
{
    /// <summary>Where relative <c>base_model</c>, <c>output_dir</c> and <c>data_files</c> resolve: <c>Cai:ArtifactsRoot</c>, else the current directory.</summary>
    public string ArtifactsRoot { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Defaults of the trainer (epochs, learning rate, batch size, warmup, checkpoints, context length, helpful mix).</summary>
    public SftOptions Defaults { get; init; } = new() { CheckpointEvery = 50 };

    /// <summary>libtorch intra-op threads for training; 0 keeps libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>Reads section <c>Sft</c>; a bad value is refused naming its key.</summary>
    public static SftServiceOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection("Sft");
        var d = new SftServiceOptions().Defaults;
        var options = new SftServiceOptions
        {
            ArtifactsRoot = configuration["Cai:ArtifactsRoot"] ?? Directory.GetCurrentDirectory(),
            Threads = section.GetValue("Threads", 0),
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
        var errors = options.Defaults.Validate().Select(e => "Sft:" + e).ToList();
        if (options.Threads < 0) errors.Add("Sft:Threads must be >= 0");
        return errors.Count == 0 ? options : throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", errors));
    }

    /// <summary>A path from a request: absolute, or relative to <see cref="ArtifactsRoot"/>.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(ArtifactsRoot, path));
}
