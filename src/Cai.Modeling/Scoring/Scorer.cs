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
        // Consecutive items with the same prompt (the options of one multiple-choice question) share one prefill
        // of it; the rest are scored as whole sequences.
        var single = new List<int>();
        var shared = new List<(int Start, int Count)>();
        for (int i = 0; i < items.Count;)
        {
            int n = 1;
            while (i + n < items.Count && items[i + n].Prompt.AsSpan().SequenceEqual(items[i].Prompt)) n++;
            if (n > 1 && items.Skip(i).Take(n).All(x => x.Continuation.Length > 0)) shared.Add((i, n));
            else single.AddRange(Enumerable.Range(i, n));
            i += n;
        }
        for (int start = 0; start < single.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ScoreWhole(items, single.Skip(start).Take(batchSize).ToList(), results);
        }
        for (int start = 0; start < shared.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ScoreSharingPrompts(items, shared.Skip(start).Take(batchSize).ToList(), results);
        }
        return results;
    }

    /// <summary>Each item as one right-padded sequence (the plain causal path).</summary>
    private void ScoreWhole(IReadOnlyList<(int[] Prompt, int[] Continuation)> items, List<int> indices, ContinuationScore[] results)
    {
        using var scope = NewDisposeScope();
        var batch = indices.Select(i => items[i]).ToList();
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
            foreach (int i in indices) results[i] = new ContinuationScore([], 0);
            return;
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
            results[indices[b]] = new ContinuationScore(tokens, tokens.Sum(x => (double)x));
        }
    }

    /// <summary>
    /// Groups of items that share a prompt: the left-padded prompts run once into a KV cache (the last position
    /// gives every continuation's first token), then each cache row is repeated per continuation and the
    /// continuations' remaining tokens run on it. About 1/k of the tokens of scoring k options as whole sequences.
    /// </summary>
    private void ScoreSharingPrompts(IReadOnlyList<(int[] Prompt, int[] Continuation)> items, List<(int Start, int Count)> groups,
        ContinuationScore[] results)
    {
        using var scope = NewDisposeScope();
        using var cache = new KvCache(model.Config.NumHiddenLayers);
        var device = model.Device;
        int g = groups.Count, promptLength = groups.Max(x => items[x.Start].Prompt.Length);
        var ids = new long[g * promptLength];
        var mask = new long[g * promptLength];
        for (int r = 0; r < g; r++)
        {
            var prompt = items[groups[r].Start].Prompt;
            int offset = promptLength - prompt.Length;
            for (int j = 0; j < prompt.Length; j++) { ids[r * promptLength + offset + j] = prompt[j]; mask[r * promptLength + offset + j] = 1; }
        }
        var promptMask = tensor(mask, [g, promptLength], device: device);
        var last = model.Forward(tensor(ids, [g, promptLength], device: device), promptMask, cache: cache, logitsToKeep: 1).Logits;
        var firstLogProbs = last.squeeze(1).to(ScalarType.Float32).log_softmax(-1).cpu();

        var rows = groups.SelectMany((x, r) => Enumerable.Repeat((long)r, x.Count)).ToArray();
        var members = groups.SelectMany(x => Enumerable.Range(x.Start, x.Count)).ToArray();
        int rest = members.Max(i => items[i].Continuation.Length) - 1;
        float[] values = [];
        if (rest > 0)
        {
            // Feed continuation tokens 0..n-2 after the cached prompt; position j predicts token j + 1.
            var feed = new long[members.Length * rest];
            var targets = new long[members.Length * rest];
            var feedMask = new long[members.Length * rest];
            for (int m = 0; m < members.Length; m++)
            {
                var c = items[members[m]].Continuation;
                for (int j = 0; j + 1 < c.Length; j++)
                {
                    feed[m * rest + j] = c[j];
                    targets[m * rest + j] = c[j + 1];
                    feedMask[m * rest + j] = 1;
                }
            }
            var rowIndex = tensor(rows, device: device);
            cache.SelectRows(rowIndex);
            var fullMask = cat([promptMask.index_select(0, rowIndex), tensor(feedMask, [members.Length, rest], device: device)], 1);
            var logits = model.Forward(tensor(feed, [members.Length, rest], device: device), fullMask, cache: cache).Logits;
            values = TokenLogProbs(logits, tensor(targets, [members.Length, rest], device: device)).cpu().data<float>().ToArray();
        }
        var first = firstLogProbs.data<float>().ToArray();
        long vocab = firstLogProbs.shape[1];
        for (int m = 0; m < members.Length; m++)
        {
            var c = items[members[m]].Continuation;
            var tokens = new float[c.Length];
            tokens[0] = first[rows[m] * vocab + c[0]];
            for (int j = 1; j < c.Length; j++) tokens[j] = values[m * rest + j - 1];
            results[members[m]] = new ContinuationScore(tokens, tokens.Sum(x => (double)x));
        }
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
