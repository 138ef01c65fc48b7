using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>The clipped surrogate objective and what it tells about the update.</summary>
/// <param name="Loss">Scalar to minimise: the masked mean of max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)).</param>
/// <param name="ClipFraction">Scalar: fraction of response tokens where the clipped term was the larger (the update was cut).</param>
/// <param name="ApproxKl">Scalar: masked mean of (ratio - 1) - log ratio, the KL between the rollout and current policy.</param>
public sealed record PolicyLossResult(Tensor Loss, Tensor ClipFraction, Tensor ApproxKl);

/// <summary>
/// PPO's clipped policy loss (Schulman et al. 2017): the probability ratio of each response token
/// under the current and the rollout policy weights its advantage, and the ratio is clipped to
/// [1 - eps, 1 + eps] so that one batch cannot move the policy far from the one that sampled it.
/// </summary>
public static class PolicyLoss
{
    /// <param name="logProbs">(B, R) log-probabilities of the sampled tokens under the current policy (differentiable).</param>
    /// <param name="oldLogProbs">(B, R) the same under the policy that sampled them.</param>
    /// <param name="advantages">(B, R) (whitened) advantages.</param>
    /// <param name="mask">(B, R) 1 on response tokens.</param>
    /// <param name="clipRange">eps, e.g. 0.2.</param>
    public static PolicyLossResult Compute(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask, double clipRange)
    {
        if (!(clipRange > 0)) throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, "The policy clip range must be > 0.");
        var logRatio = logProbs - oldLogProbs;
        var ratio = logRatio.exp();
        var unclipped = -advantages * ratio;
        var clipped = -advantages * ratio.clamp(1 - clipRange, 1 + clipRange);
        var loss = MaskedStatistics.Mean(maximum(unclipped, clipped), mask);
        using var noGrad = no_grad();
        var clipFraction = MaskedStatistics.Mean(clipped.gt(unclipped).to(ScalarType.Float32), mask);
        var approxKl = MaskedStatistics.Mean(ratio - 1 - logRatio, mask);
        return new PolicyLossResult(loss, clipFraction, approxKl);
    }
}
