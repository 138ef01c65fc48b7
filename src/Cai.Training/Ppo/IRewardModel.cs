using Cai.Training.PreferenceModel;

namespace Cai.Training.Ppo;

/// <summary>
/// The reward of RL-CAI: one score per (prompt, response), higher is better, read once the response
/// is complete. In-process it is the preference model; a remote preference-model service can
/// implement the same interface.
/// </summary>
public interface IRewardModel
{
    /// <summary>One score per sample; <paramref name="prompts"/>[i] and <paramref name="responses"/>[i] are unpadded token ids.</summary>
    float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, CancellationToken cancellationToken = default);
}

/// <summary>The trained preference model as PPO's reward: it scores the prompt followed by the response.</summary>
public sealed class PreferenceModelReward(PreferenceModelScorer scorer) : IRewardModel
{
    private readonly PreferenceModelScorer _scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));

    public float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(responses);
        if (prompts.Count != responses.Count)
            throw new ArgumentException($"{prompts.Count} prompts but {responses.Count} responses.", nameof(responses));
        return _scorer.Score(prompts.Select((p, i) => (int[])[.. p, .. responses[i]]).ToList(), cancellationToken);
    }
}
