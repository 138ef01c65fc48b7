using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>The clipped value loss and how often the clip was active.</summary>
/// <param name="Loss">Scalar: 0.5 x masked mean of max((V - G)^2, (V_clipped - G)^2).</param>
/// <param name="ClipFraction">Scalar: fraction of response tokens where the clipped error was the larger.</param>
public sealed record ValueLossResult(Tensor Loss, Tensor ClipFraction);

/// <summary>
/// The value model's regression onto the returns, with PPO's clip: a new value may move at most
/// eps away from the value at rollout time before its error stops shrinking the loss, mirroring
/// the policy's trust region.
/// </summary>
public static class ValueLoss
{
    /// <param name="values">(B, R) current values (differentiable).</param>
    /// <param name="oldValues">(B, R) values at rollout time.</param>
    /// <param name="returns">(B, R) targets (GAE advantages + old values).</param>
    /// <param name="mask">(B, R) 1 on response tokens.</param>
    /// <param name="clipRange">eps_v, in the reward's units.</param>
    public static ValueLossResult Compute(Tensor values, Tensor oldValues, Tensor returns, Tensor mask, double clipRange)
    {
        if (!(clipRange > 0)) throw new ArgumentOutOfRangeException(nameof(clipRange), clipRange, "The value clip range must be > 0.");
        var clippedValues = oldValues + (values - oldValues).clamp(-clipRange, clipRange);
        var unclippedError = (values - returns).square();
        var clippedError = (clippedValues - returns).square();
        var loss = 0.5 * MaskedStatistics.Mean(maximum(unclippedError, clippedError), mask);
        using var noGrad = no_grad();
        var clipFraction = MaskedStatistics.Mean(clippedError.gt(unclippedError).to(ScalarType.Float32), mask);
        return new ValueLossResult(loss, clipFraction);
    }

    /// <summary>1 - Var(returns - values) / Var(returns) over response tokens: 1 when the values predict
    /// the returns, 0 when they do no better than a constant, negative when worse.</summary>
    public static double ExplainedVariance(Tensor values, Tensor returns, Tensor mask)
    {
        using var noGrad = no_grad();
        double variance = MaskedStatistics.Variance(returns, mask).item<float>();
        if (variance <= 0) return double.NaN;
        return 1 - MaskedStatistics.Variance(returns - values, mask).item<float>() / variance;
    }
}
