using Cai.Modeling.Precision;
using Cai.Services.Generation.Batching;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Services.Generation.Models;

/// <summary>
/// The models the service holds: the CAI pipeline asks for several at once (the base model as
/// feedback model, the SL-CAI policy, the policies under evaluation), each request naming one by
/// its folder. A model loads on first use (concurrent requests for it share one load), and the
/// <see cref="GenerationOptions.MaxLoadedModels"/> most recently used stay in memory; an evicted
/// model finishes its queued calls before its weights are freed.
/// </summary>
public sealed class ModelRegistry : IHostedService, IAsyncDisposable
{
    private readonly GenerationOptions _options;
    private readonly GenerationMetrics _metrics;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    // Most recently used first; each entry's task is its single load.
    private readonly LinkedList<(string Path, Task<LoadedModel> Load)> _lru = new();
    private readonly List<Task> _evictions = [];

    public ModelRegistry(GenerationOptions options, GenerationMetrics metrics, ILoggerFactory loggerFactory)
    {
        _options = options;
        _metrics = metrics;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ModelRegistry>();
        Device = ResolveDevice(options.Device);
        ComputeDtype = ResolveComputeDtype(options.ComputeDtype, Device);
    }

    /// <summary>The torch device every model is loaded onto.</summary>
    public Device Device { get; }

    /// <summary>The precision served models compute in (decided once, at start-up).</summary>
    public ScalarType ComputeDtype { get; }

    /// <summary>The full folder path a request's model name stands for.</summary>
    public string Resolve(string model) => Path.GetFullPath(Path.IsPathRooted(model) ? model : Path.Combine(_options.ArtifactsRoot!, model));

    /// <summary>
    /// The loaded model for <paramref name="model"/> (absolute, or relative to the artifacts root),
    /// loading it if needed. A missing folder throws <see cref="DirectoryNotFoundException"/>; a folder
    /// that is not a usable checkpoint throws <see cref="ArgumentException"/> for the field "model".
    /// </summary>
    public Task<LoadedModel> GetAsync(string model, CancellationToken cancellationToken)
    {
        var path = Resolve(model);
        Task<LoadedModel> load;
        lock (_lock)
        {
            var node = _lru.First;
            while (node is not null && node.Value.Path != path) node = node.Next;
            if (node is not null)
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                load = node.Value.Load;
            }
            else
            {
                if (!Directory.Exists(path))
                    throw new DirectoryNotFoundException($"Model folder not found: {path} (model '{model}').");
                load = Task.Run(() => Load(model, path), CancellationToken.None);
                _lru.AddFirst((path, load));
                EvictBeyondCapacity();
                // A failed load leaves the registry, so a fixed folder can be retried; a finished one
                // may now push the least recently used model out.
                _ = load.ContinueWith(t =>
                {
                    if (t.IsCompletedSuccessfully) lock (_lock) EvictBeyondCapacity();
                    else Forget(path, t);
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        return load.WaitAsync(cancellationToken);
    }

    /// <summary>The models in memory (not those still loading), most recently used first.</summary>
    public IReadOnlyList<LoadedModel> Loaded()
    {
        lock (_lock)
            return _lru.Where(e => e.Load.IsCompletedSuccessfully).Select(e => e.Load.Result).ToList();
    }

    private LoadedModel Load(string name, string path)
    {
        _logger.LogInformation("Loading model {Model} from {Path} onto {Device}", name, path, Device);
        try
        {
            var (model, tokenizer, sampler, scorer) = LoadedModel.Load(path, Device, _options.MaxBatchSize, ComputeDtype);
            var batcher = new DynamicBatcher(name, sampler, scorer, _options, _metrics, _loggerFactory.CreateLogger<DynamicBatcher>());
            _logger.LogInformation("Loaded model {Model}: {Parameters:N0} parameters", name, model.ParameterCount());
            return new LoadedModel(name, path, model, tokenizer, batcher);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or NotSupportedException)
        {
            // The folder exists but is not a checkpoint this service can serve: the request's model is wrong.
            throw new ArgumentException($"{path} is not a usable model: {e.Message}", "model", e);
        }
    }

    private void Forget(string path, Task<LoadedModel> failed)
    {
        lock (_lock)
        {
            var node = _lru.First;
            while (node is not null && !(node.Value.Path == path && node.Value.Load == failed)) node = node.Next;
            if (node is not null) _lru.Remove(node);
        }
    }

    private void EvictBeyondCapacity()
    {
        // Called under the lock. Models still loading are not evicted; they count once loaded.
        var node = _lru.Last;
        while (_lru.Count > _options.MaxLoadedModels && node is not null)
        {
            var previous = node.Previous;
            if (node.Value.Load.IsCompletedSuccessfully)
            {
                _lru.Remove(node);
                var evicted = node.Value.Load.Result;
                _logger.LogInformation("Evicting model {Model} (least recently used)", evicted.Name);
                _evictions.RemoveAll(t => t.IsCompleted);
                _evictions.Add(Task.Run(async () => await evicted.DisposeAsync()));
            }
            node = previous;
        }
    }

    private static ScalarType ResolveComputeDtype(string name, Device device) => PrecisionAdvisor.Resolve(name, device) ?? ScalarType.Float32;

    private static Device ResolveDevice(string name)
    {
        Device device;
        try
        {
            device = torch.device(name);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"Configuration '{GenerationOptions.SectionName}:Device' is '{name}', not a torch device (\"cpu\", \"cuda\", \"cuda:0\").", e);
        }
        if (device.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new InvalidOperationException(
                $"Configuration '{GenerationOptions.SectionName}:Device' is '{name}' but CUDA is not available: this build uses the CPU libtorch " +
                "package; build with TorchSharp-cuda-linux (or -windows) instead of libtorch-cpu-linux-x64 on a machine with an NVIDIA driver.");
        return device;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Host shutdown: cancels running batches and fails queued calls with UNAVAILABLE.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<Task<LoadedModel>> loads;
        lock (_lock)
        {
            loads = _lru.Select(e => e.Load).ToList();
            _lru.Clear();
        }
        foreach (var load in loads)
        {
            try
            {
                await (await load).StopAsync();
            }
            catch (Exception) when (!load.IsCompletedSuccessfully)
            {
                // It never loaded: nothing to stop.
            }
        }
        Task[] evictions;
        lock (_lock) evictions = _evictions.ToArray();
        await Task.WhenAll(evictions);
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
