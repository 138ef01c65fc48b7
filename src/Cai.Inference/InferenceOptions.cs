using Microsoft.Extensions.Configuration;

namespace Cai.Inference;

/// <summary>
/// Where a stage's models run. With a generation endpoint (Aspire injects <c>services:generation:grpc:0</c>; or
/// <c>Inference:GenerationEndpoint</c>) every model call goes to the generation service; without one, models are
/// loaded in this process. Configuration section <c>Inference</c>.
/// </summary>
public sealed record InferenceOptions
{
    /// <summary>The Aspire service-discovery key of the generation service's gRPC endpoint.</summary>
    public const string GenerationEndpointKey = "services:generation:grpc:0";

    /// <summary>The generation service's address (e.g. <c>http://localhost:5110</c>), or null to run models in-process.</summary>
    public Uri? GenerationEndpoint { get; init; }

    /// <summary>Deadline of every call to the generation service. Default 10 minutes (a batch of long samples on a CPU).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Prompts (or scoring items) per request to the generation service: its <c>MaxBatchSize</c>. Default 64.</summary>
    public int RemoteBatchSize { get; init; } = 64;

    /// <summary>Prompts per sampler call of an in-process model. Default 64.</summary>
    public int LocalBatchSize { get; init; } = 64;

    /// <summary>In-process models kept loaded (least recently used evicted). Default 2 (a policy and a feedback model).</summary>
    public int MaxLocalModels { get; init; } = 2;

    /// <summary>
    /// libtorch intra-op threads for in-process models (process-wide), 0 keeping libtorch's default. On a machine
    /// where several model processes share few cores, 1 avoids the spin-waiting of oversubscribed threads.
    /// </summary>
    public int Threads { get; init; }

    /// <summary>Where relative model folders resolve for in-process models: <c>Cai:ArtifactsRoot</c>, else the current directory.</summary>
    public string ArtifactsRoot { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Reads the options; a malformed value is refused naming its key.</summary>
    public static InferenceOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("Inference");
        string? endpoint = configuration[GenerationEndpointKey] ?? section["GenerationEndpoint"];
        var defaults = new InferenceOptions();
        var options = new InferenceOptions
        {
            GenerationEndpoint = string.IsNullOrWhiteSpace(endpoint) ? null
                : Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri
                : throw new InvalidOperationException($"Configuration '{(configuration[GenerationEndpointKey] is null ? "Inference:GenerationEndpoint" : GenerationEndpointKey)}' must be an absolute URI; got '{endpoint}'."),
            CallTimeout = section.GetValue("CallTimeout", defaults.CallTimeout),
            RemoteBatchSize = section.GetValue("RemoteBatchSize", defaults.RemoteBatchSize),
            LocalBatchSize = section.GetValue("LocalBatchSize", defaults.LocalBatchSize),
            MaxLocalModels = section.GetValue("MaxLocalModels", defaults.MaxLocalModels),
            Threads = section.GetValue("Threads", defaults.Threads),
            ArtifactsRoot = configuration["Cai:ArtifactsRoot"] ?? defaults.ArtifactsRoot,
        };
        var errors = options.Validate();
        return errors.Count == 0 ? options : throw new InvalidOperationException("Configuration 'Inference': " + string.Join("; ", errors));
    }

    /// <summary>Problems, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (CallTimeout <= TimeSpan.Zero) errors.Add($"{nameof(CallTimeout)} must be > 0");
        if (RemoteBatchSize < 1) errors.Add($"{nameof(RemoteBatchSize)} must be >= 1");
        if (LocalBatchSize < 1) errors.Add($"{nameof(LocalBatchSize)} must be >= 1");
        if (MaxLocalModels < 1) errors.Add($"{nameof(MaxLocalModels)} must be >= 1");
        if (Threads < 0) errors.Add($"{nameof(Threads)} must be >= 0");
        return errors;
    }

    /// <summary>A model folder for in-process loading: absolute, or relative to <see cref="ArtifactsRoot"/>.</summary>
    public string ResolveLocal(string model) => Path.GetFullPath(Path.Combine(ArtifactsRoot, model));
}
