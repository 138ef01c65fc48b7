using System.Diagnostics.Metrics;

namespace Cai.Training.Ppo;

/// <summary>
/// PPO's OpenTelemetry metrics on the <c>Cai.Training</c> meter: one gauge per statistic of the
/// latest iteration (what the dashboard plots per step) and a histogram of iteration durations.
/// </summary>
public static class PpoTelemetry
{
    /// <summary>The meter name services register with OpenTelemetry.</summary>
    public const string MeterName = "Cai.Training";

    public static Meter Meter { get; } = new(MeterName);

    private static readonly Gauge<double> Reward = Meter.CreateGauge<double>("cai.ppo.reward", description: "Mean total reward per sample (score - beta x KL).");
    private static readonly Gauge<double> Score = Meter.CreateGauge<double>("cai.ppo.score", description: "Mean preference-model score per sample.");
    private static readonly Gauge<double> Kl = Meter.CreateGauge<double>("cai.ppo.kl", "nat", "Mean KL to the reference model per sample.");
    private static readonly Gauge<double> KlCoefficient = Meter.CreateGauge<double>("cai.ppo.kl_coef", description: "beta, the weight of the KL penalty.");
    private static readonly Gauge<double> Entropy = Meter.CreateGauge<double>("cai.ppo.entropy", "nat", "Mean next-token entropy of the policy on response tokens.");
    private static readonly Gauge<double> ClipFraction = Meter.CreateGauge<double>("cai.ppo.clip_fraction", description: "Fraction of response tokens whose policy ratio was clipped.");
    private static readonly Gauge<double> ValueLoss = Meter.CreateGauge<double>("cai.ppo.value_loss", description: "Mean clipped value loss.");
    private static readonly Gauge<double> ExplainedVariance = Meter.CreateGauge<double>("cai.ppo.explained_variance", description: "1 - Var(returns - values) / Var(returns).");
    private static readonly Gauge<double> ResponseLength = Meter.CreateGauge<double>("cai.ppo.response_length", "{token}", "Mean response tokens per sample.");
    private static readonly Gauge<long> Iteration = Meter.CreateGauge<long>("cai.ppo.iteration", "{iteration}", "Iterations completed.");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("cai.ppo.iteration.duration", "s", "Wall time of one PPO iteration.");

    /// <summary>Publishes one iteration's statistics.</summary>
    public static void Record(PpoStepStats s)
    {
        ArgumentNullException.ThrowIfNull(s);
        Reward.Record(s.MeanReward);
        Score.Record(s.MeanScore);
        Kl.Record(s.Kl);
        KlCoefficient.Record(s.KlCoefficient);
        Entropy.Record(s.Entropy);
        ClipFraction.Record(s.ClipFraction);
        ValueLoss.Record(s.ValueLoss);
        if (double.IsFinite(s.ExplainedVariance)) ExplainedVariance.Record(s.ExplainedVariance);
        ResponseLength.Record(s.MeanResponseLength);
        Iteration.Record(s.Iteration);
        Duration.Record(s.Seconds);
    }
}
