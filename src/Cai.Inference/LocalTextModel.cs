using Cai.Core.Generation;
using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Scoring;
using Cai.Modeling.Tokenization;

namespace Cai.Inference;

/// <summary>
/// A language model run in this process on the model core (<see cref="Sampler"/>, <see cref="Scorer"/>): what a
/// stage uses when no generation service is configured (tests, <c>cai run --in-process</c>). Calls are batched
/// (<see cref="BatchSize"/> prompts per sampler call) and run one at a time on a worker thread, so concurrent
/// callers do not oversubscribe the cores.
/// <para>
/// Reproducibility: the model core's sampler draws every row of a call from one generator, so a sampled row is
/// reproducible for the same prompts in the same order, seed, machine and thread count, but not independent of
/// its batch-mates (Core's <see cref="GenerationSettings.Seed"/> asks for per-row streams "where possible"; the
/// sampler does not offer it). Greedy decoding (temperature 0) is per row, up to float rounding from padding.
/// Each chunk of <see cref="BatchSize"/> prompts gets its own seed derived from the call's seed and the chunk index.
/// </para>
/// <para>
/// Prompts longer than the model's context minus <see cref="GenerationSettings.MaxNewTokens"/> keep their first
/// (BOS) token and their last tokens: critique prompts end with the section the model must write, so the end is
/// what matters. The generation service refuses such prompts instead (its <c>MaxPromptTokens</c>).
/// </para>
/// </summary>
public sealed class LocalTextModel : ILanguageModel, IDisposable
{
    private const string SeedStream = "local-text-model";
    private readonly LlamaForCausalLM _model;
    private readonly HfTokenizer _tokenizer;
    private readonly Sampler _sampler;
    private readonly Scorer _scorer;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _disposed;

    private LocalTextModel(string model, LlamaForCausalLM network, HfTokenizer tokenizer, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Model = model;
        _model = network;
        _model.eval();
        _tokenizer = tokenizer;
        BatchSize = batchSize;
        _sampler = new Sampler(network, tokenizer);
        _scorer = new Scorer(network, batchSize);
    }

    /// <summary>Loads a causal LM and its tokenizer from a Hugging Face folder.</summary>
    /// <param name="directory">The model folder (config.json, model.safetensors, tokenizer.json).</param>
    /// <param name="batchSize">Prompts per sampler call and continuations per scorer pass.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static LocalTextModel Load(string directory, int batchSize = 64)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model folder not found: {directory}");
        var tokenizer = HfTokenizer.Load(directory);
        try
        {
            return new LocalTextModel(directory, Checkpoint.LoadCausalLM(directory), tokenizer, batchSize);
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Model { get; }

    /// <summary>Prompts per sampler call.</summary>
    public int BatchSize { get; }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> CompleteAsync(
        IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(settings);
        var errors = settings.Validate("settings");
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors), nameof(settings));
        int maxPrompt = _model.Config.MaxPositionEmbeddings - settings.MaxNewTokens;
        if (maxPrompt < 2)
            throw new ArgumentException($"MaxNewTokens {settings.MaxNewTokens} leaves no room for a prompt in the model's context of {_model.Config.MaxPositionEmbeddings} tokens.", nameof(settings));
        if (prompts.Count == 0) return [];

        return await RunExclusiveAsync(() =>
        {
            var results = new string[prompts.Count];
            for (int start = 0, chunk = 0; start < prompts.Count; start += BatchSize, chunk++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var ids = prompts.Skip(start).Take(BatchSize).Select(p => Fit(_tokenizer.Encode(p), maxPrompt)).ToArray();
                var options = new SamplingOptions
                {
                    MaxNewTokens = settings.MaxNewTokens,
                    Temperature = (float)settings.Temperature,
                    TopP = (float)settings.TopP,
                    TopK = settings.TopK,
                    Seed = ChunkSeed(settings.Seed, chunk),
                    StopStrings = settings.StopSequences,
                };
                foreach (var sequence in _sampler.Generate(ids, options, cancellationToken: cancellationToken))
                    results[start + sequence.PromptIndex] = sequence.Text;
            }
            return (IReadOnlyList<string>)results;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IReadOnlyList<double>>> ScoreAsync(
        IReadOnlyList<OptionScoringRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var items = new List<(int[] Prompt, int[] Continuation)>();
        for (int r = 0; r < requests.Count; r++)
        {
            var request = requests[r] ?? throw new ArgumentException($"requests[{r}] is null.", nameof(requests));
            var prompt = _tokenizer.Encode(request.Prompt);
            foreach (var continuation in request.Continuations)
            {
                var ids = _tokenizer.Encode(continuation, addSpecialTokens: false);
                if (ids.Length == 0) throw new ArgumentException($"requests[{r}] has a continuation with no tokens.", nameof(requests));
                items.Add((Fit(prompt, _model.Config.MaxPositionEmbeddings - ids.Length), ids));
            }
        }
        if (items.Count == 0) return [];

        var scores = await RunExclusiveAsync(() => _scorer.Score(items, cancellationToken), cancellationToken).ConfigureAwait(false);
        var result = new List<IReadOnlyList<double>>(requests.Count);
        int next = 0;
        foreach (var request in requests)
        {
            result.Add([.. scores.Skip(next).Take(request.Continuations.Count).Select(s => s.Sum)]);
            next += request.Continuations.Count;
        }
        return result;
    }

    /// <summary>Waits for calls in progress, then frees the model.</summary>
    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _model.Dispose();
            _tokenizer.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<T> RunExclusiveAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The model core is synchronous: keep it off the caller's (e.g. a gRPC request's) thread.
            return await Task.Run(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    // Keeps the first (BOS) token and the last tokens of a prompt that does not fit.
    private static int[] Fit(int[] ids, int maxLength)
    {
        if (ids.Length <= maxLength) return ids;
        return maxLength <= 1 ? ids[^Math.Max(1, maxLength)..] : [ids[0], .. ids[^(maxLength - 1)..]];
    }

    private static long? ChunkSeed(ulong? seed, int chunk) => seed is not { } s ? null
        : chunk == 0 ? unchecked((long)s)
        : unchecked((long)DeterministicRandom.ForItem(s, SeedStream, chunk.ToString(System.Globalization.CultureInfo.InvariantCulture)).NextUInt64());
}
