using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training.PreferenceModel;
using TorchSharp;

namespace Cai.Services.PreferenceModel.Scoring;

/// <summary>
/// The preference models this replica serves (PPO's reward calls Score many times a second): each loaded once, the
/// <see cref="PreferenceModelServiceOptions.MaxLoadedModels"/> most recently used kept. Calls on one model run one
/// at a time (the model core is synchronous) on a worker thread; an evicted model is freed after its call in
/// progress. A model folder retrained in place (same path) is reloaded when its weights file changes.
/// </summary>
public sealed class LoadedPreferenceModels(PreferenceModelServiceOptions options) : IDisposable
{
    private readonly Lock _lock = new();
    // Most recently used last.
    private readonly List<Entry> _entries = [];

    /// <summary>Runs <paramref name="work"/> with the scorer of the PM in <paramref name="directory"/> (an absolute path).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public async Task<T> UseAsync<T>(string directory, Func<PreferenceModelScorer, T> work, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model: preference model folder not found: {directory}");
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(directory, Checkpoint.WeightsFile));
        Entry entry;
        var evicted = new List<Entry>();
        lock (_lock)
        {
            int at = _entries.FindIndex(e => e.Directory == directory);
            if (at >= 0 && _entries[at].Stamp == stamp)
            {
                entry = _entries[at];
                _entries.RemoveAt(at);
            }
            else
            {
                if (at >= 0)
                {
                    evicted.Add(_entries[at]);
                    _entries.RemoveAt(at);
                }
                entry = new Entry(directory, stamp, options);
                while (_entries.Count >= options.MaxLoadedModels)
                {
                    evicted.Add(_entries[0]);
                    _entries.RemoveAt(0);
                }
            }
            _entries.Add(entry);
        }
        foreach (var old in evicted) old.Dispose();
        return await entry.RunAsync(work, cancellationToken);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var e in _entries) e.Dispose();
            _entries.Clear();
        }
    }

    private sealed class Entry(string directory, DateTime stamp, PreferenceModelServiceOptions options) : IDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private (ScalarHeadModel Model, HfTokenizer Tokenizer, PreferenceModelScorer Scorer)? _loaded;
        private bool _disposed;

        public string Directory { get; } = directory;
        public DateTime Stamp { get; } = stamp;

        public async Task<T> RunAsync<T>(Func<PreferenceModelScorer, T> work, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return await Task.Run(() =>
                {
                    if (_loaded is null)
                    {
                        var tokenizer = HfTokenizer.Load(Directory);
                        var model = ScalarHeadModel.Load(Directory);
                        if (options.ScoreDtype != torch.ScalarType.Float32) model.to(options.ScoreDtype);
                        model.eval();
                        _loaded = (model, tokenizer, new PreferenceModelScorer(model, tokenizer, options.ScoreBatchSize,
                            options.Defaults.ContextLength, options.Defaults.AppendEos));
                    }
                    return work(_loaded.Value.Scorer);
                }, cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
        }

        public void Dispose()
        {
            _gate.Wait();
            try
            {
                if (_disposed) return;
                _disposed = true;
                _loaded?.Model.Dispose();
                _loaded?.Tokenizer.Dispose();
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
