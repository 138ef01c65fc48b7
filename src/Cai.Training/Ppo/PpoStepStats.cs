namespace Cai.Training.Ppo;

/// <summary>One PPO iteration as reported to a progress callback, the JSONL log and the metrics.</summary>
/// <param name="Iteration">Iterations completed (1-based).</param>
/// <param name="TotalIterations">Iterations of the whole run.</param>
/// <param name="MeanReward">Mean total reward per sample: score - beta x KL.</param>
/// <param name="MeanScore">Mean reward-model (preference-model) score per sample.</param>
/// <param name="Kl">Mean KL to the reference per sample (nats, summed over the response).</param>
/// <param name="KlCoefficient">beta used for this iteration's rewards.</param>
/// <param name="Entropy">Mean next-token entropy of the policy on response tokens at rollout time.</param>
/// <param name="ClipFraction">Mean fraction of response tokens whose policy ratio was clipped.</param>
/// <param name="ValueClipFraction">Mean fraction of response tokens whose value error was clipped.</param>
/// <param name="PolicyLoss">Mean clipped policy loss over the minibatches.</param>
/// <param name="ValueLoss">Mean clipped value loss over the minibatches.</param>
/// <param name="ApproxKl">Mean KL between the rollout policy and the updated one during the epochs.</param>
/// <param name="ExplainedVariance">How well the rollout-time values predicted the returns.</param>
/// <param name="MeanResponseLength">Mean response tokens per sample.</param>
/// <param name="StoppedFraction">Fraction of responses that ended at a stop token.</param>
/// <param name="RolloutSeconds">Wall time of sampling and scoring.</param>
/// <param name="Seconds">Wall time of the whole iteration.</param>
public sealed record PpoStepStats(
    int Iteration,
    int TotalIterations,
    double MeanReward,
    double MeanScore,
    double Kl,
    double KlCoefficient,
    double Entropy,
    double ClipFraction,
    double ValueClipFraction,
    double PolicyLoss,
    double ValueLoss,
    double ApproxKl,
    double ExplainedVariance,
    double MeanResponseLength,
    double StoppedFraction,
    double RolloutSeconds,
    double Seconds);

/// <summary>How a PPO run ended.</summary>
/// <param name="Iterations">Iterations of the run (including those before a resume).</param>
/// <param name="ResumedFromIteration">The checkpoint the run continued from, or null.</param>
/// <param name="Last">Statistics of the last iteration this call ran, or null when nothing was left to run.</param>
/// <param name="OutputDirectory">Holds the final policy (HF layout) and <c>value/</c>.</param>
/// <param name="Elapsed">Wall time of this call.</param>
public sealed record PpoResult(int Iterations, int? ResumedFromIteration, PpoStepStats? Last, string OutputDirectory, TimeSpan Elapsed);
