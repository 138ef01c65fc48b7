using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// One PPO rollout batch as the update sees it (OpenRLHF's "experience"). B samples; every row is a
/// prompt left-padded to P columns followed by its response right-padded to R columns, so all
/// response tokens share the last R columns. Everything but <see cref="Sequences"/> and
/// <see cref="AttentionMask"/> is per response column. The tensors are owned by this record.
/// </summary>
/// <param name="Sequences">(B, P + R) int64 token ids (padding: the pad id).</param>
/// <param name="AttentionMask">(B, P + R) int64, 1 on real prompt and response tokens.</param>
/// <param name="ActionMask">(B, R) float32, 1 on response tokens (the actions), 0 after a response ends.</param>
/// <param name="OldLogProbs">(B, R) float32, log p of each response token under the policy that sampled it.</param>
/// <param name="ReferenceLogProbs">(B, R) float32, the same under the frozen reference (SL-CAI) model.</param>
/// <param name="Values">(B, R) float32, the value model's V before each response token, at rollout time.</param>
/// <param name="Rewards">(B, R) float32, -beta x KL per token, plus the reward-model score on the last response token.</param>
/// <param name="Advantages">(B, R) float32, GAE advantages (whitened when the options say so).</param>
/// <param name="Returns">(B, R) float32, unwhitened advantages + values: the value model's targets.</param>
public sealed record Experience(
    Tensor Sequences,
    Tensor AttentionMask,
    Tensor ActionMask,
    Tensor OldLogProbs,
    Tensor ReferenceLogProbs,
    Tensor Values,
    Tensor Rewards,
    Tensor Advantages,
    Tensor Returns) : IDisposable
{
    /// <summary>B, the number of samples.</summary>
    public int Count => (int)Sequences.shape[0];

    /// <summary>R, the response columns.</summary>
    public int ResponseLength => (int)ActionMask.shape[1];

    /// <summary>
    /// The samples at <paramref name="rows"/> (a minibatch), without the columns none of them uses:
    /// prompt padding all of them share and response columns past their longest response. Its
    /// tensors live in the caller's dispose scope.
    /// </summary>
    public Experience Select(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("Select needs at least one row.", nameof(rows));
        var index = tensor(rows.Select(r => (long)r).ToArray(), device: Sequences.device);
        Tensor Take(Tensor t) => t.index_select(0, index);
        var attention = Take(AttentionMask);
        var actions = Take(ActionMask);
        long r = ResponseLength, p = Sequences.shape[1] - r;
        long used = Math.Max(1, (long)actions.sum(1).max().item<float>());
        // Positions come from the attention mask, so dropping shared left padding changes nothing the models compute.
        long skip = p - attention.narrow(1, 0, p).sum(1).max().item<long>();
        Tensor Columns(Tensor t) => t.narrow(1, skip, p - skip + used);
        Tensor Response(Tensor t) => Take(t).narrow(1, 0, used);
        return new Experience(Columns(Take(Sequences)), Columns(attention), actions.narrow(1, 0, used), Response(OldLogProbs),
            Response(ReferenceLogProbs), Response(Values), Response(Rewards), Response(Advantages), Response(Returns));
    }

    internal Experience DetachFromDisposeScope()
    {
        foreach (var t in All) t.DetachFromDisposeScope();
        return this;
    }

    private Tensor[] All => [Sequences, AttentionMask, ActionMask, OldLogProbs, ReferenceLogProbs, Values, Rewards, Advantages, Returns];

    public void Dispose()
    {
        foreach (var t in All) t.Dispose();
    }
}
