using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;

namespace Cai.Inference;

/// <summary>
/// Gives the <see cref="ILanguageModel"/> for a model folder: through the generation service when
/// <see cref="InferenceOptions.GenerationEndpoint"/> is set, otherwise loaded in this process (the
/// <see cref="InferenceOptions.MaxLocalModels"/> most recently used stay loaded). Thread-safe.
/// </summary>
public sealed class LanguageModelFactory : IDisposable
{
    private readonly InferenceOptions _options;
    private readonly GrpcChannel? _channel;
    private readonly GenerationClient? _client;
    private readonly Lock _lock = new();
    // Most recently used last.
    private readonly List<(string Path, Lazy<LocalTextModel> Model)> _local = [];

    /// <param name="options">Where models run.</param>
    /// <param name="client">The generation client to use for remote models; when null and an endpoint is set, one is created.</param>
    public LanguageModelFactory(InferenceOptions options, GenerationClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors), nameof(options));
        _options = options;
        if (client is not null)
        {
            _client = client;
        }
        else if (options.GenerationEndpoint is { } endpoint)
        {
            _channel = GrpcChannel.ForAddress(endpoint);
            _client = new GenerationClient(_channel);
        }
    }

    /// <summary>True when models are served by the generation service.</summary>
    public bool IsRemote => _client is not null;

    /// <summary>The options in use.</summary>
    public InferenceOptions Options => _options;

    /// <summary>The model named <paramref name="model"/> (a Hugging Face folder).</summary>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="DirectoryNotFoundException">An in-process model's folder does not exist.</exception>
    public ILanguageModel Get(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (_client is not null) return new GrpcTextModel(_client, model, _options);

        string path = _options.ResolveLocal(model);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"model folder not found: {path}");
        Lazy<LocalTextModel> entry;
        LocalTextModel? evicted = null;
        lock (_lock)
        {
            int at = _local.FindIndex(e => e.Path == path);
            if (at >= 0)
            {
                entry = _local[at].Model;
                _local.RemoveAt(at);
            }
            else
            {
                entry = new Lazy<LocalTextModel>(() =>
                {
                    if (_options.Threads > 0) TorchSharp.torch.set_num_threads(_options.Threads);
                    return LocalTextModel.Load(path, _options.LocalBatchSize);
                });
                if (_local.Count >= _options.MaxLocalModels)
                {
                    var oldest = _local[0].Model;
                    _local.RemoveAt(0);
                    if (oldest.IsValueCreated) evicted = oldest.Value;
                }
            }
            _local.Add((path, entry));
        }
        // Waits for the evicted model's calls in progress before freeing it.
        evicted?.Dispose();
        try
        {
            return entry.Value;
        }
        catch
        {
            lock (_lock) _local.RemoveAll(e => e.Model == entry);
            throw;
        }
    }

    /// <summary>Frees the in-process models and the channel this factory created.</summary>
    public void Dispose()
    {
        List<(string, Lazy<LocalTextModel> Model)> models;
        lock (_lock)
        {
            models = [.. _local];
            _local.Clear();
        }
        foreach (var (_, model) in models)
            if (model.IsValueCreated) model.Value.Dispose();
        _channel?.Dispose();
    }
}

/// <summary>Registration of the inference layer in a service.</summary>
public static class InferenceServiceCollectionExtensions
{
    /// <summary>Registers <see cref="InferenceOptions"/> (from configuration) and a singleton <see cref="LanguageModelFactory"/>.</summary>
    public static IServiceCollection AddCaiInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(_ => InferenceOptions.FromConfiguration(configuration));
        services.AddSingleton(sp => new LanguageModelFactory(sp.GetRequiredService<InferenceOptions>()));
        return services;
    }
}
