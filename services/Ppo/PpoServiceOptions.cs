using Cai.Modeling.Precision;
using static TorchSharp.torch;

namespace Cai.Services.Ppo;

/// <summary>
/// Settings of the ppo service (configuration section <c>Ppo</c>) and where relative request paths resolve. The
/// hyperparameters a <c>Train</c> request leaves at 0 are <see cref="Cai.Training.Ppo.PpoOptions"/>'s defaults.
/// </summary>
public sealed record PpoServiceOptions
{
    /// <summary>Where relative <c>policy_model</c>, <c>reward_model</c>, <c>output_dir</c> and <c>prompt_files</c> resolve: <c>Cai:ArtifactsRoot</c>, else the current directory.</summary>
    public string ArtifactsRoot { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>libtorch intra-op threads for training; 0 keeps libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Precision of the frozen KL reference and preference model, from <c>Ppo:FrozenModelsDtype</c>: "f32", "bf16" or
    /// "auto" (a matmul check at start-up picks bf16 where it is measurably faster). The code's default is "f32";
    /// the service's appsettings.json sets "auto". The policy and value model train in float32 either way.
    /// </summary>
    public ScalarType FrozenModelsDtype { get; init; } = ScalarType.Float32;

    /// <summary>Reads the settings; a bad value is refused naming its key.</summary>
    public static PpoServiceOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection("Ppo");
        int threads = section.GetValue("Threads", 0);
        if (threads < 0) throw new InvalidOperationException($"Invalid configuration: Ppo:Threads must be >= 0 (got {threads})");
        string dtype = section["FrozenModelsDtype"] ?? "f32";
        var frozen = PrecisionAdvisor.Resolve(dtype)
            ?? throw new InvalidOperationException($"Invalid configuration: Ppo:FrozenModelsDtype must be one of {string.Join(", ", PrecisionAdvisor.SettingNames)} (got \"{dtype}\")");
        return new PpoServiceOptions
        {
            ArtifactsRoot = configuration["Cai:ArtifactsRoot"] ?? Directory.GetCurrentDirectory(),
            Threads = threads,
            FrozenModelsDtype = frozen,
        };
    }

    /// <summary>A path from a request: absolute, or relative to <see cref="ArtifactsRoot"/>.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(ArtifactsRoot, path));
}
