using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Tokenization;

namespace Cai.Evaluation;

/// <summary>
/// Samples one continuation per text prompt through the model core's <see cref="Sampler"/>, many
/// sequences in flight at once (decoding one at a time costs a forward pass per token per prompt).
/// Prompts are grouped by length to waste little on padding; batch i samples with seed + i, so the
/// result depends only on the prompts, the options and the model.
/// </summary>
public sealed class BatchedSampler
{
    private readonly LlamaForCausalLM _model;
    private readonly ITokenizer _tokenizer;
    private readonly Sampler _sampler;

    /// <param name="batchSize">Sequences in flight per forward pass (at least 32 pays off on a CPU).</param>
    public BatchedSampler(LlamaForCausalLM model, ITokenizer tokenizer, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _model = model;
        _tokenizer = tokenizer;
        _sampler = new Sampler(model, tokenizer);
        BatchSize = batchSize;
    }

    public int BatchSize { get; }

    /// <summary>The trimmed continuation of each prompt, in order. A prompt longer than the context
    /// allows after <see cref="SamplingOptions.MaxNewTokens"/> keeps its last tokens (its end is what
    /// the model must continue).</summary>
    public IReadOnlyList<string> Complete(IReadOnlyList<string> prompts, SamplingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int room = _model.Config.MaxPositionEmbeddings - options.MaxNewTokens;
        if (room < 1)
            throw new ArgumentException($"MaxNewTokens ({options.MaxNewTokens}) leaves no room for a prompt in max_position_embeddings ({_model.Config.MaxPositionEmbeddings}).", nameof(options));
        var encoded = prompts.Select(p =>
        {
            var ids = _tokenizer.Encode(p);
            return ids.Length > room ? ids[^room..] : ids;
        }).ToArray();
        var order = Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Length).ThenBy(i => i).ToArray();
        var results = new string[encoded.Length];
        long seed = options.Seed ?? 0;
        for (int start = 0, batch = 0; start < order.Length; start += BatchSize, batch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = order.Skip(start).Take(BatchSize).ToArray();
            var batchOptions = options with { Seed = seed + batch, SamplesPerPrompt = 1 };
            var generated = _sampler.Generate(indices.Select(i => encoded[i]).ToArray(), batchOptions, cancellationToken: cancellationToken);
            foreach (var g in generated) results[indices[g.PromptIndex]] = g.Text.Trim();
        }
        return results;
    }
}
