using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// Means and variances over the response tokens only. Padding after a finished response is not an
/// action, so every PPO average (losses, KL, entropy, whitening) must ignore it.
/// </summary>
public static class MaskedStatistics
{
    /// <summary>Mean of <paramref name="values"/> where <paramref name="mask"/> is 1 (same shape); 0 when the mask is empty.</summary>
    public static Tensor Mean(Tensor values, Tensor mask)
    {
        var m = mask.to(values.dtype);
        return (values * m).sum() / m.sum().clamp_min(1);
    }

    /// <summary>Variance over the masked entries; <paramref name="unbiased"/> divides by n - 1 (Bessel's correction).</summary>
    public static Tensor Variance(Tensor values, Tensor mask, bool unbiased = true)
    {
        var m = mask.to(values.dtype);
        var n = m.sum();
        var centred = (values - Mean(values, m)) * m;
        var sumSquares = (centred * centred).sum();
        return unbiased ? sumSquares / (n - 1).clamp_min(1) : sumSquares / n.clamp_min(1);
    }
}
