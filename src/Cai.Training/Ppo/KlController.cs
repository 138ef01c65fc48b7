namespace Cai.Training.Ppo;

/// <summary>Chooses beta, the weight of the per-token KL penalty, from one rollout batch to the next.</summary>
public interface IKlController
{
    /// <summary>The current beta.</summary>
    double Coefficient { get; }

    /// <summary>Adjusts beta after a rollout batch whose mean per-sample KL was <paramref name="observedKl"/>
    /// over <paramref name="samples"/> samples.</summary>
    void Update(double observedKl, int samples);
}

/// <summary>A constant beta.</summary>
public sealed class FixedKlController : IKlController
{
    public FixedKlController(double coefficient)
    {
        if (!(coefficient >= 0) || !double.IsFinite(coefficient)) throw new ArgumentOutOfRangeException(nameof(coefficient), coefficient, "The KL coefficient must be finite and >= 0.");
        Coefficient = coefficient;
    }

    public double Coefficient { get; }

    public void Update(double observedKl, int samples) { }
}

/// <summary>
/// Ziegler et al. (2019)'s adaptive beta: a proportional controller that steers the observed KL
/// toward <see cref="Target"/>. The error e = clip(KL / target - 1, -0.2, 0.2) moves beta by the
/// factor 1 + e x samples / horizon, so beta rises while the policy strays further than the
/// target and falls while it stays closer; the clip bounds the change from one noisy batch.
/// </summary>
public sealed class AdaptiveKlController : IKlController
{
    /// <param name="coefficient">Initial beta (or the saved beta of a resumed run).</param>
    /// <param name="target">The KL (nats per sample) to steer toward.</param>
    /// <param name="horizon">Samples over which a persistent 100% error changes beta by about e^0.2.</param>
    public AdaptiveKlController(double coefficient, double target, double horizon)
    {
        if (!(coefficient > 0) || !double.IsFinite(coefficient)) throw new ArgumentOutOfRangeException(nameof(coefficient), coefficient, "The initial KL coefficient must be finite and > 0 for the adaptive controller.");
        if (!(target > 0) || !double.IsFinite(target)) throw new ArgumentOutOfRangeException(nameof(target), target, "kl_target must be finite and > 0.");
        if (!(horizon > 0) || !double.IsFinite(horizon)) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "The KL horizon must be finite and > 0.");
        Coefficient = coefficient;
        Target = target;
        Horizon = horizon;
    }

    public double Coefficient { get; private set; }
    public double Target { get; }
    public double Horizon { get; }

    public void Update(double observedKl, int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        if (!double.IsFinite(observedKl)) throw new ArgumentOutOfRangeException(nameof(observedKl), observedKl, "The observed KL must be finite.");
        double error = Math.Clamp(observedKl / Target - 1, -0.2, 0.2);
        Coefficient *= 1 + error * samples / Horizon;
    }
}
