using Cai.Modeling.Precision;
using Microsoft.Extensions.Configuration;

namespace Cai.Services.Generation;

/// <summary>
/// Settings of the generation service (configuration section <c>Generation</c>). The service serves
/// the language models of every CAI stage (the helpful base model as feedback model, the SL-CAI and
/// RL-CAI policies, the models under evaluation): these settings bound how many stay loaded, how long
/// prompts and samples may be, and how concurrent requests are merged into batches.
/// </summary>
public sealed record GenerationOptions
{
    public const string SectionName = "Generation";

    /// <summary>Folder that relative model paths resolve against. Falls back to <c>Cai:ArtifactsRoot</c>,
    /// then to the current directory.</summary>
    public string? ArtifactsRoot { get; init; }

    /// <summary>Models kept in memory; loading one more evicts the least recently used. Default 3.</summary>
    public int MaxLoadedModels { get; init; } = 3;

    /// <summary>Longest prompt in tokens (special tokens included), per prompt. Default 1024.</summary>
    public int MaxPromptTokens { get; init; } = 1024;

    /// <summary>Largest <c>max_new_tokens</c> a request may ask for. Default 512.</summary>
    public int MaxNewTokens { get; init; } = 512;

    /// <summary>New tokens when a request leaves <c>max_new_tokens</c> at 0. Default 64.</summary>
    public int DefaultMaxNewTokens { get; init; } = 64;

    /// <summary>Most sequences (prompts x samples) in one sampler call; a single request may use at
    /// most this many. Default 64: on a 2-core CPU decoding 64 rows gives 1.2-1.4x the tokens/s of 32
    /// (bench/Cai.Bench, "decode batch 64").</summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>Requests waiting (not yet in a running batch) per model; one more is refused with
    /// RESOURCE_EXHAUSTED. Default 256.</summary>
    public int MaxQueueLength { get; init; } = 256;

    /// <summary>How long the oldest waiting request waits for others to join its batch. Default 5 ms.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Torch device of the models: "cpu", "cuda" or "cuda:N". Default "cpu".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Compute precision of served models: "f32", "bf16", or "auto" (a quick matmul check at start-up picks
    /// bf16 only where it is measurably faster, e.g. CPUs with bf16 units; never fp16 on CPU). Default "f32";
    /// the service's appsettings.json sets "auto": on the 2-core dev CPU (bf16 units) prefill runs 8.7x faster in
    /// bf16 (bench/Cai.Bench: 16,821 vs 1,925 tok/s) and batch-64 decoding 1.2-1.4x.
    /// </summary>
    public string ComputeDtype { get; init; } = "f32";

    /// <summary>libtorch intra-op threads of each model's batch thread; 0 keeps libtorch's default
    /// (one per core). Set it lower when several models run at once. Default 0.</summary>
    public int Threads { get; init; }

    /// <summary>Reads the section, applies the artifacts-root fallback and checks every value.</summary>
    public static GenerationOptions FromConfiguration(IConfiguration configuration)
    {
        var options = configuration.GetSection(SectionName).Get<GenerationOptions>() ?? new GenerationOptions();
        var root = options.ArtifactsRoot ?? configuration["Cai:ArtifactsRoot"] ?? Directory.GetCurrentDirectory();
        return (options with { ArtifactsRoot = Path.GetFullPath(root) }).Validate();
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first bad setting.</summary>
    public GenerationOptions Validate()
    {
        Require(MaxLoadedModels >= 1, nameof(MaxLoadedModels), "must be at least 1");
        Require(MaxPromptTokens >= 1, nameof(MaxPromptTokens), "must be at least 1");
        Require(MaxNewTokens >= 1, nameof(MaxNewTokens), "must be at least 1");
        Require(DefaultMaxNewTokens >= 1 && DefaultMaxNewTokens <= MaxNewTokens, nameof(DefaultMaxNewTokens),
            $"must be in [1, MaxNewTokens = {MaxNewTokens}]");
        Require(MaxBatchSize >= 1, nameof(MaxBatchSize), "must be at least 1");
        Require(MaxQueueLength >= 1, nameof(MaxQueueLength), "must be at least 1");
        Require(BatchWindow >= TimeSpan.Zero, nameof(BatchWindow), "must not be negative");
        Require(!string.IsNullOrWhiteSpace(Device), nameof(Device), "must name a torch device (\"cpu\", \"cuda\", \"cuda:0\")");
        Require(PrecisionAdvisor.SettingNames.Contains(ComputeDtype), nameof(ComputeDtype), $"must be one of {string.Join(", ", PrecisionAdvisor.SettingNames)}");
        Require(Threads >= 0, nameof(Threads), "must be 0 (libtorch default) or positive");
        return this;

        static void Require(bool ok, string name, string message)
        {
            if (!ok) throw new InvalidOperationException($"Configuration '{SectionName}:{name}' {message}.");
        }
    }
}
