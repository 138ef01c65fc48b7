using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// Generalised advantage estimation (Schulman et al. 2016) over the response tokens of each sample:
/// delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t + gamma lambda A_{t+1}, with V after the
/// last response token taken as 0 (the episode ends there). Returns, the value model's targets,
/// are A_t + V_t.
/// </summary>
public static class Gae
{
    /// <param name="rewards">(B, R) per-token rewards, 0 after the response ends.</param>
    /// <param name="values">(B, R) value of the state before each response token.</param>
    /// <param name="mask">(B, R) 1 on response tokens; responses are right-aligned runs starting at column 0.</param>
    /// <returns>Advantages (B, R) and returns (B, R), both 0 on masked-out columns.</returns>
    public static (Tensor Advantages, Tensor Returns) Compute(Tensor rewards, Tensor values, Tensor mask, double gamma, double lambda)
    {
        if (!rewards.shape.SequenceEqual(values.shape) || !rewards.shape.SequenceEqual(mask.shape) || rewards.dim() != 2)
            throw new ArgumentException($"rewards, values and mask must share a (batch, response) shape; got [{string.Join(", ", rewards.shape)}], [{string.Join(", ", values.shape)}], [{string.Join(", ", mask.shape)}].");
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be in [0, 1].");
        if (!(lambda >= 0 && lambda <= 1)) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be in [0, 1].");
        using var noGrad = no_grad();
        var m = mask.to(values.dtype);
        // Zeroing values and rewards past the end makes V_{end} = 0 and the recursion stop there.
        var v = values * m;
        var r = rewards * m;
        long length = rewards.shape[1];
        var columns = new Tensor[length];
        Tensor next = zeros_like(v.select(1, 0));
        Tensor nextValue = zeros_like(next);
        for (long t = length - 1; t >= 0; t--)
        {
            var delta = r.select(1, t) + gamma * nextValue - v.select(1, t);
            next = (delta + gamma * lambda * next) * m.select(1, t);
            columns[t] = next;
            nextValue = v.select(1, t);
        }
        var advantages = stack(columns, 1);
        return (advantages, (advantages + v) * m);
    }
}
