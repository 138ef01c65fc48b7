using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Cai.Modeling.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Modeling.Generation;

/// <summary>
/// Samples continuations of prompts from a language model: the policy answering red-team prompts,
/// writing critiques and revisions, producing comparison pairs and PPO rollouts. Prompts are
/// left-padded into one batch and each step runs one forward pass over the whole batch with a
/// KV cache; finished sequences leave the batch.
/// </summary>
public sealed class Sampler
{
    private readonly LlamaForCausalLM _model;
    private readonly ITokenizer? _tokenizer;

    /// <param name="tokenizer">Needed for text prompts, text output, stop strings and EOS; null for token-only use.</param>
    public Sampler(LlamaForCausalLM model, ITokenizer? tokenizer = null) => (_model, _tokenizer) = (model, tokenizer);

    /// <summary>Encodes text prompts (with the tokenizer's special tokens) and samples from them.</summary>
    public IReadOnlyList<GeneratedSequence> Generate(IReadOnlyList<string> prompts, SamplingOptions options,
        Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        var tokenizer = _tokenizer ?? throw new InvalidOperationException("Text prompts need a tokenizer: construct the Sampler with one.");
        return Generate(prompts.Select(p => tokenizer.Encode(p)).ToArray(), options, onToken, cancellationToken);
    }

    /// <summary>
    /// Samples <see cref="SamplingOptions.SamplesPerPrompt"/> continuations per prompt. Results are
    /// ordered by prompt, then sample. <paramref name="onToken"/> sees each token as it is produced.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> Generate(IReadOnlyList<int[]> prompts, SamplingOptions options,
        Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var config = _model.Config;
        if (prompts.Count == 0) return [];
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"prompts[{i}] is empty.", nameof(prompts));
            if (prompts[i].Any(t => t < 0 || t >= config.VocabSize))
                throw new ArgumentException($"prompts[{i}] has a token id outside [0, {config.VocabSize}).", nameof(prompts));
        }
        int longest = prompts.Max(p => p.Length);
        if (longest + options.MaxNewTokens > config.MaxPositionEmbeddings)
            throw new ArgumentException($"Longest prompt ({longest} tokens) + MaxNewTokens ({options.MaxNewTokens}) exceeds max_position_embeddings ({config.MaxPositionEmbeddings}).", nameof(options));
        if (options.StopStrings.Count > 0 && _tokenizer is null)
            throw new ArgumentException("StopStrings need a tokenizer.", nameof(options));
        var stopIds = new HashSet<int>(options.StopTokenIds);
        if (options.StopAtEos)
        {
            // Both the tokenizer's EOS and the model config's eos_token_id(s) (Llama 3 has several).
            if (_tokenizer?.EosId is int eos) stopIds.Add(eos);
            stopIds.UnionWith(config.EosTokenIds);
        }

        int n = options.SamplesPerPrompt;
        var rows = new List<RowState>();
        for (int p = 0; p < prompts.Count; p++)
            for (int s = 0; s < n; s++) rows.Add(new RowState(p, s));
        var active = Enumerable.Range(0, rows.Count).ToList(); // batch position -> row
        // Prompts of one length need no mask at all: the plain causal path is cheaper.
        bool padded = prompts.Any(p => p.Length != longest);
        // Models often have more embedding rows than the tokenizer has tokens: never sample those.
        long sampleable = Math.Min(config.VocabSize, _tokenizer?.VocabSize ?? config.VocabSize);

        var device = _model.Device;
        using var inference = inference_mode();
        using var generator = new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device);
        using var cache = new KvCache(config.NumHiddenLayers, longest + options.MaxNewTokens);
        Tensor? logits = null, mask = null;
        try
        {
            using (NewDisposeScope())
            {
                // Prefill: each distinct prompt once, left-padded so every prompt ends at the last column.
                var ids = new long[prompts.Count * longest];
                var pad = new long[prompts.Count * longest];
                for (int p = 0; p < prompts.Count; p++)
                {
                    int offset = p * longest + longest - prompts[p].Length;
                    for (int j = 0; j < prompts[p].Length; j++) { ids[offset + j] = prompts[p][j]; pad[offset + j] = 1; }
                }
                var idsT = tensor(ids, [prompts.Count, longest], device: device);
                var maskT = tensor(pad, [prompts.Count, longest], device: device);
                var last = _model.Forward(idsT, padded ? maskT : null, cache: cache, logitsToKeep: 1).Logits.squeeze(1)
                    .narrow(-1, 0, sampleable).to(ScalarType.Float32);
                if (n > 1)
                {
                    last = last.repeat_interleave(n, dim: 0);
                    maskT = maskT.repeat_interleave(n, dim: 0);
                    cache.RepeatRows(n);
                }
                logits = last.DetachFromDisposeScope();
                mask = maskT.DetachFromDisposeScope();
            }

            for (int step = 0; ; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var next = Choose(logits, options, generator);
                var chosen = next.cpu().data<long>().ToArray();
                bool lastStep = step == options.MaxNewTokens - 1;
                var keep = new List<int>();
                for (int b = 0; b < active.Count; b++)
                {
                    var row = rows[active[b]];
                    Advance(row, (int)chosen[b], stopIds, options.StopStrings, lastStep);
                    onToken?.Invoke(new GeneratedToken(row.Prompt, row.Sample, (int)chosen[b], row.TakeDelta(options.StopStrings), row.Finished is not null));
                    if (row.Finished is null) keep.Add(b);
                }
                if (keep.Count == 0) break;

                var nextMask = mask;
                if (keep.Count < active.Count)
                {
                    // Drop finished rows so later steps compute only live sequences.
                    var rowsT = tensor(keep.Select(k => (long)k).ToArray(), device: device);
                    cache.SelectRows(rowsT);
                    nextMask = nextMask.index_select(0, rowsT);
                    next = next.index_select(0, rowsT);
                    active = keep.Select(k => active[k]).ToList();
                }
                nextMask = cat([nextMask, ones(active.Count, 1, ScalarType.Int64, device)], 1);
                var nextLogits = _model.Forward(next.view(-1, 1), padded ? nextMask : null, cache: cache, logitsToKeep: 1).Logits.squeeze(1)
                    .narrow(-1, 0, sampleable).to(ScalarType.Float32);
                logits.Dispose();
                mask.Dispose();
                logits = nextLogits.DetachFromDisposeScope();
                mask = nextMask.DetachFromDisposeScope();
            }
        }
        finally
        {
            logits?.Dispose();
            mask?.Dispose();
        }
        return rows.Select(r => new GeneratedSequence(r.Prompt, r.Sample, r.Tokens.ToArray(), r.Text, r.Finished!.Value)).ToList();
    }

    /// <summary>The same as <see cref="Generate(IReadOnlyList{int[]}, SamplingOptions, Action{GeneratedToken}?, CancellationToken)"/>,
    /// yielding tokens as they are produced; the model runs on a worker thread.</summary>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync(IReadOnlyList<int[]> prompts, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var worker = Task.Run(() =>
        {
            try
            {
                Generate(prompts, options, t => channel.Writer.TryWrite(t), cancellationToken);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);
        await foreach (var token in channel.Reader.ReadAllAsync(cancellationToken)) yield return token;
        await worker;
    }

    /// <summary>Text form of <see cref="StreamAsync(IReadOnlyList{int[]}, SamplingOptions, CancellationToken)"/>.</summary>
    public IAsyncEnumerable<GeneratedToken> StreamAsync(IReadOnlyList<string> prompts, SamplingOptions options, CancellationToken cancellationToken = default)
    {
        var tokenizer = _tokenizer ?? throw new InvalidOperationException("Text prompts need a tokenizer: construct the Sampler with one.");
        return StreamAsync(prompts.Select(p => tokenizer.Encode(p)).ToArray(), options, cancellationToken);
    }

    /// <summary>Next token per row: argmax at temperature 0, else a draw after temperature, top-k and top-p.</summary>
    public static Tensor Choose(Tensor logits, SamplingOptions options, Generator generator)
    {
        if (options.Temperature == 0) return logits.argmax(-1);
        var scaled = logits / options.Temperature;
        long vocab = scaled.shape[^1];
        if (options.TopK > 0 && options.TopK < vocab)
        {
            var kth = scaled.topk(options.TopK).values.narrow(-1, options.TopK - 1, 1);
            scaled = scaled.masked_fill(scaled.lt(kth), float.NegativeInfinity);
        }
        if (options.TopP < 1)
        {
            var (sorted, order) = scaled.sort(-1, descending: true);
            var probs = sorted.softmax(-1);
            // Drop a token when the tokens ranked above it already reach p (the top one always stays).
            var drop = (probs.cumsum(-1) - probs).gt(options.TopP);
            scaled = full_like(scaled, float.NegativeInfinity).scatter(-1, order, sorted.masked_fill(drop, float.NegativeInfinity));
        }
        return scaled.softmax(-1).multinomial(1, generator: generator).squeeze(-1);
    }

    private void Advance(RowState row, int token, HashSet<int> stopIds, IReadOnlyList<string> stopStrings, bool lastStep)
    {
        row.Tokens.Add(token);
        if (_tokenizer is not null) row.Text = _tokenizer.Decode(row.Tokens);
        if (stopIds.Contains(token)) { row.Finished = FinishReason.StopToken; return; }
        int cut = -1;
        foreach (var stop in stopStrings)
        {
            int at = row.Text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) { row.Text = row.Text[..cut]; row.Finished = FinishReason.StopString; return; }
        if (lastStep) row.Finished = FinishReason.Length;
    }

    private sealed class RowState(int prompt, int sample)
    {
        public int Prompt { get; } = prompt;
        public int Sample { get; } = sample;
        public List<int> Tokens { get; } = [];
        public string Text { get; set; } = "";
        public FinishReason? Finished { get; set; }
        private int _emitted;

        /// <summary>Text not yet streamed, holding back a partial UTF-8 character or a possible stop-string start.</summary>
        public string TakeDelta(IReadOnlyList<string> stopStrings)
        {
            int safe = Text.Length;
            if (Finished is null)
            {
                while (safe > 0 && Text[safe - 1] == '\uFFFD') safe--;
                foreach (var stop in stopStrings)
                    for (int k = Math.Min(stop.Length - 1, safe); k > 0; k--)
                        if (string.CompareOrdinal(Text, safe - k, stop, 0, k) == 0) { safe = Math.Min(safe, safe - k); break; }
            }
            if (safe <= _emitted) return "";
            var delta = Text[_emitted..safe];
            _emitted = safe;
            return delta;
        }
    }
}
