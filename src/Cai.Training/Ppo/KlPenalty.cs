using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>How the per-token KL divergence to the reference policy is estimated from one sampled token.</summary>
public enum KlEstimator
{
    /// <summary>log p(a) - log p_ref(a): unbiased, can be negative on a single token.</summary>
    K1,

    /// <summary>(r - 1) - log r with r = p_ref(a) / p(a): unbiased and never negative, lower variance (Schulman's k3).</summary>
    K3,
}

/// <summary>
/// The KL penalty of RL from (AI) feedback: each response token is charged beta x KL(policy ||
/// reference) at that token, which keeps the RL policy close to the SL-CAI policy it started from
/// so that it cannot drift into text the preference model scores wrongly.
/// </summary>
public static class KlPenalty
{
    /// <summary>Per-token KL estimate (B, R) from the sampled tokens' log-probabilities under both policies.</summary>
    public static Tensor PerToken(Tensor logProbs, Tensor referenceLogProbs, KlEstimator estimator = KlEstimator.K1)
    {
        var logRatio = logProbs - referenceLogProbs;
        return estimator switch
        {
            KlEstimator.K1 => logRatio,
            KlEstimator.K3 => (-logRatio).exp() - 1 + logRatio,
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "Unknown KL estimator."),
        };
    }
}
