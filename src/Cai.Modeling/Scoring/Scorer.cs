using Cai.Modeling.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Modeling.Scoring;

/// <summary>Log-probability of a continuation after a prompt: per token and summed.</summary>
public sealed record ContinuationScore(float[] TokenLogProbs, double Sum);

/// <summary>
/// Scores given continuations under a language model: log p(continuation | prompt). This is the
/// primitive behind AI feedback (the probability of " (A)" vs " (B)" after a multiple-choice
/// question) and behind PPO's policy and reference log-probabilities.
/// </summary>
public sealed class Scorer(LlamaForCausalLM model, int batchSize = 16)
{
    /// <summary>log p(continuation | prompt) for each pair, batched <c>batchSize</c> at a time.</summary>
    public IReadOnlyList<ContinuationScore> Score(IReadOnlyList<(int[] Prompt, int[] Continuation)> items, CancellationToken cancellationToken = default)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].Prompt.Length == 0) throw new ArgumentException($"items[{i}].Prompt is empty: the first token has no prediction.", nameof(items));
            if (items[i].Prompt.Length + items[i].Continuation.Length > model.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"items[{i}] is longer than max_position_embeddings ({model.Config.MaxPositionEmbeddings}).", nameof(items));
        }
        var results = new ContinuationScore[items.Count];
        using var inference = inference_mode();
        for (int start = 0; start < items.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var batch = items.Skip(start).Take(batchSize).ToList();
            int length = batch.Max(x => x.Prompt.Length + x.Continuation.Length);
            int shortestPrompt = batch.Min(x => x.Prompt.Length);
            // Right padding: causal attention keeps padding after a sequence from touching it.
            var ids = new long[batch.Count * length];
            for (int b = 0; b < batch.Count; b++)
            {
                var row = batch[b].Prompt.Concat(batch[b].Continuation).ToArray();
                for (int j = 0; j < row.Length; j++) ids[b * length + j] = row[j];
            }
            var idsT = tensor(ids, [batch.Count, length], device: model.Device);
            // Logits only where a continuation token can be predicted: from the shortest prompt's last token on.
            int first = shortestPrompt - 1;
            if (length - first - 1 == 0)
            {
                for (int b = 0; b < batch.Count; b++) results[start + b] = new ContinuationScore([], 0);
                continue;
            }
            var logits = model.Forward(idsT, logitsToKeep: length - first).Logits;
            var window = logits.narrow(1, 0, length - first - 1);
            var targets = idsT.narrow(1, first + 1, length - first - 1);
            var lp = TokenLogProbs(window, targets).cpu();
            var values = lp.data<float>().ToArray();
            int width = (int)lp.shape[1];
            for (int b = 0; b < batch.Count; b++)
            {
                var (prompt, continuation) = batch[b];
                var tokens = new float[continuation.Length];
                // Continuation token j sits at position prompt.Length + j, predicted from the position before it.
                for (int j = 0; j < tokens.Length; j++) tokens[j] = values[b * width + prompt.Length - 1 + j - first];
                results[start + b] = new ContinuationScore(tokens, tokens.Sum(x => (double)x));
            }
        }
        return results;
    }

    /// <summary>Text form: the prompt is encoded with special tokens, the continuation without.</summary>
    public IReadOnlyList<ContinuationScore> Score(ITokenizer tokenizer, IReadOnlyList<(string Prompt, string Continuation)> items, CancellationToken cancellationToken = default) =>
        Score(items.Select(x => (tokenizer.Encode(x.Prompt), tokenizer.Encode(x.Continuation, addSpecialTokens: false))).ToList(), cancellationToken);

    /// <summary>
    /// log softmax(logits)[target] in float32: (B, T, V) logits and (B, T) targets give (B, T).
    /// Differentiable, for PPO's policy log-probabilities.
    /// </summary>
    public static Tensor TokenLogProbs(Tensor logits, Tensor targets)
    {
        var l = logits.to(ScalarType.Float32);
        return l.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - l.logsumexp(-1, keepdim: false);
    }
}
