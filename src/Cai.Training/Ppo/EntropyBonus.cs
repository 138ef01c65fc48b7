using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// The entropy of the policy's next-token distribution at each response position. Subtracting
/// coef x entropy from the loss rewards keeping several continuations alive, a guard against the
/// policy collapsing onto one response early.
/// </summary>
public static class EntropyBonus
{
    /// <summary>Per-position entropy in nats: (B, R, V) logits give (B, R).</summary>
    public static Tensor PerToken(Tensor logits)
    {
        var logp = logits.to(ScalarType.Float32).log_softmax(-1);
        return -(logp.exp() * logp).sum(-1);
    }

    /// <summary>The bonus term of the loss: coefficient x masked mean entropy (subtract it from the loss).</summary>
    public static Tensor Compute(Tensor entropy, Tensor mask, double coefficient) =>
        coefficient * MaskedStatistics.Mean(entropy, mask);
}
