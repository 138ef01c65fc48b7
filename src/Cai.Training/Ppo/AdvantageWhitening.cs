using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// Advantage whitening: advantages are shifted to mean 0 and scaled to variance 1 over the response
/// tokens of a rollout batch. The reward model's scale is arbitrary; whitening keeps the policy
/// step size independent of it.
/// </summary>
public static class AdvantageWhitening
{
    /// <summary>(x - mean) / sqrt(var + eps) over masked entries; masked-out entries become 0.</summary>
    /// <param name="values">(B, R) advantages.</param>
    /// <param name="mask">(B, R) 1 on response tokens.</param>
    public static Tensor Whiten(Tensor values, Tensor mask, double epsilon = 1e-8)
    {
        var mean = MaskedStatistics.Mean(values, mask);
        var variance = MaskedStatistics.Variance(values, mask);
        return (values - mean) * (variance + epsilon).rsqrt() * mask.to(values.dtype);
    }
}
