using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Cai.Training.Sft;

/// <summary>
/// SL-CAI's fine-tuning loss: next-token cross-entropy on the response tokens only. Prompt and
/// padding positions carry the label <see cref="IgnoreIndex"/> and contribute neither loss nor
/// gradient: the model learns to answer as the revisions do, not to write red-team prompts.
/// </summary>
public static class ResponseTokenLoss
{
    /// <summary>The label of a position that is not trained on (PyTorch's convention).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>
    /// Batches encoded sequences with right padding. Labels equal the input ids on response tokens
    /// and <see cref="IgnoreIndex"/> on prompt tokens and padding.
    /// </summary>
    /// <returns>InputIds and Labels (B, T) int64, and the number of non-padding tokens.</returns>
    public static (Tensor InputIds, Tensor Labels, long Tokens) Collate(IReadOnlyList<SftSequence> batch, int padId, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) throw new ArgumentException("The batch is empty.", nameof(batch));
        int length = batch.Max(s => s.InputIds.Length);
        var ids = new long[batch.Count * length];
        var labels = new long[batch.Count * length];
        Array.Fill(ids, padId);
        Array.Fill(labels, IgnoreIndex);
        long tokens = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            for (int t = 0; t < s.InputIds.Length; t++)
            {
                ids[b * length + t] = s.InputIds[t];
                if (t >= s.PromptLength) labels[b * length + t] = s.InputIds[t];
            }
            tokens += s.InputIds.Length;
        }
        return (tensor(ids, [batch.Count, length], device: device), tensor(labels, [batch.Count, length], device: device), tokens);
    }

    /// <summary>
    /// Mean cross-entropy over labelled positions: the logits at position t predict the label at
    /// t + 1. Computed in float32 whatever the logits' dtype.
    /// </summary>
    /// <param name="logits">(B, T, V)</param>
    /// <param name="labels">(B, T), <see cref="IgnoreIndex"/> where nothing is learned.</param>
    public static Tensor Compute(Tensor logits, Tensor labels)
    {
        if (logits.dim() != 3 || labels.dim() != 2 || logits.shape[0] != labels.shape[0] || logits.shape[1] != labels.shape[1])
            throw new ArgumentException($"logits must be (B, T, V) and labels (B, T); got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", labels.shape)}].");
        long t = logits.shape[1];
        var predictions = logits.narrow(1, 0, t - 1).to(ScalarType.Float32).reshape(-1, logits.shape[2]);
        var targets = labels.narrow(1, 1, t - 1).reshape(-1);
        return F.cross_entropy(predictions, targets, ignore_index: IgnoreIndex);
    }
}
