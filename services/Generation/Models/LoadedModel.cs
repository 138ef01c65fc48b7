using TorchSharp;
using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Scoring;
using Cai.Modeling.Tokenization;
using Cai.Services.Generation.Batching;

namespace Cai.Services.Generation.Models;

/// <summary>A language model in memory with its tokenizer and its batching queue.</summary>
public sealed class LoadedModel : IAsyncDisposable
{
    internal LoadedModel(string name, string path, LlamaForCausalLM model, HfTokenizer tokenizer, DynamicBatcher batcher)
        => (Name, Path, Model, Tokenizer, Batcher) = (name, path, model, tokenizer, batcher);

    /// <summary>The model as requests named it.</summary>
    public string Name { get; }

    /// <summary>The full path of its folder (the registry's key).</summary>
    public string Path { get; }

    public LlamaForCausalLM Model { get; }

    public HfTokenizer Tokenizer { get; }

    public DynamicBatcher Batcher { get; }

    private readonly Lock _gate = new();
    private int _leases;
    private bool _closing;
    private TaskCompletionSource? _released;

    /// <summary>
    /// Keeps the model from being freed while a request tokenizes with it and queues its call; null
    /// once the model is being unloaded (look it up again).
    /// </summary>
    public IDisposable? TryLease()
    {
        lock (_gate)
        {
            if (_closing) return null;
            _leases++;
            return new Lease(this);
        }
    }

    private void Release()
    {
        lock (_gate)
            if (--_leases == 0 && _closing) _released?.TrySetResult();
    }

    private Task CloseAsync()
    {
        lock (_gate)
        {
            _closing = true;
            if (_leases == 0) return Task.CompletedTask;
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _released.Task;
        }
    }

    private sealed class Lease(LoadedModel owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Release();
        }
    }

    /// <summary>Waits for leases, lets queued calls finish, then frees the weights and the tokenizer.</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        await Batcher.DisposeAsync();
        Model.Dispose();
        Tokenizer.Dispose();
    }

    /// <summary>Fails queued calls and cancels the running batch, then frees everything (host shutdown).</summary>
    public async Task StopAsync()
    {
        await CloseAsync();
        await Batcher.StopAsync();
        Model.Dispose();
        Tokenizer.Dispose();
    }

    internal static (LlamaForCausalLM Model, HfTokenizer Tokenizer, Sampler Sampler, Scorer Scorer) Load(
        string path, TorchSharp.torch.Device device, int scoreBatchSize, TorchSharp.torch.ScalarType computeDtype)
    {
        var model = Checkpoint.LoadCausalLM(path, device);
        try
        {
            model.eval();
            if (computeDtype != TorchSharp.torch.ScalarType.Float32) model.to(computeDtype);
            var tokenizer = HfTokenizer.Load(path);
            if (tokenizer.VocabSize > model.Config.VocabSize)
            {
                tokenizer.Dispose();
                throw new InvalidDataException($"{path}: tokenizer.json has {tokenizer.VocabSize} token ids but config.json's vocab_size is {model.Config.VocabSize}.");
            }
            return (model, tokenizer, new Sampler(model, tokenizer), new Scorer(model, scoreBatchSize));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
