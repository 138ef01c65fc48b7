using Cai.Modeling.Generation;
using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>What a rollout batch looked like, before any update.</summary>
/// <param name="MeanScore">Mean reward-model score per sample (after any missing-EOS penalty).</param>
/// <param name="MeanReward">Mean total reward per sample: score - beta x summed KL.</param>
/// <param name="MeanKl">Mean KL to the reference per sample (nats, summed over its response tokens).</param>
/// <param name="MeanEntropy">Mean next-token entropy of the policy over response tokens (nats).</param>
/// <param name="MeanResponseLength">Mean response tokens per sample.</param>
/// <param name="StoppedFraction">Fraction of responses that ended with a stop token rather than at the length limit.</param>
/// <param name="ExplainedVariance">How well the rollout-time values predicted the returns.</param>
public sealed record RolloutSummary(double MeanScore, double MeanReward, double MeanKl, double MeanEntropy,
    double MeanResponseLength, double StoppedFraction, double ExplainedVariance);

/// <summary>
/// Turns prompts into an <see cref="Experience"/>: samples responses from the policy, scores them
/// with the reward model, charges the per-token KL to the reference, and computes GAE advantages
/// and returns. Nothing here has gradients; the update happens in <see cref="PpoTrainer"/>.
/// </summary>
public sealed class ExperienceMaker
{
    private readonly PolicyModel _policy;
    private readonly ReferenceModel _reference;
    private readonly ValueModel _value;
    private readonly IRewardModel _reward;
    private readonly PpoOptions _options;
    private readonly long _padId;

    public ExperienceMaker(PolicyModel policy, ReferenceModel reference, ValueModel value, IRewardModel reward, PpoOptions options)
    {
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _reference = reference ?? throw new ArgumentNullException(nameof(reference));
        _value = value ?? throw new ArgumentNullException(nameof(value));
        _reward = reward ?? throw new ArgumentNullException(nameof(reward));
        _options = (options ?? throw new ArgumentNullException(nameof(options))).ThrowIfInvalid();
        _padId = policy.Model.Config.PadTokenId ?? 0;
    }

    /// <summary>One rollout batch: <see cref="PpoOptions.SamplesPerPrompt"/> responses per prompt.</summary>
    /// <param name="klCoefficient">beta for this batch.</param>
    /// <param name="samplingSeed">Seed of the sampler; each rollout chunk derives its own from it.</param>
    public (Experience Experience, RolloutSummary Summary) Make(IReadOnlyList<int[]> prompts, double klCoefficient, long samplingSeed,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("There are no prompts.", nameof(prompts));
        var (promptRows, responses, stopped) = Sample(prompts, samplingSeed, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var scores = Score(promptRows, responses, stopped, cancellationToken);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (sequences, attention, actionMask) = Collate(promptRows, responses);
        int r = (int)actionMask.shape[1];
        var policyScores = _policy.Evaluate(sequences, attention, r, withEntropy: true);
        var referenceLogProbs = _reference.LogProbs(sequences, attention, r);
        var values = _value.Values(sequences, attention, r) * actionMask;
        var kl = KlPenalty.PerToken(policyScores.LogProbs, referenceLogProbs, _options.KlEstimator) * actionMask;
        var rewards = RewardsPerToken(kl, scores, responses, klCoefficient);
        var (advantages, returns) = Gae.Compute(rewards, values, actionMask, _options.Gamma, _options.Lambda);
        if (_options.WhitenAdvantages) advantages = AdvantageWhitening.Whiten(advantages, actionMask);

        var summary = new RolloutSummary(
            MeanScore: scores.Average(s => (double)s),
            MeanReward: rewards.sum(1).mean().item<float>(),
            MeanKl: kl.sum(1).mean().item<float>(),
            MeanEntropy: MaskedStatistics.Mean(policyScores.Entropy!, actionMask).item<float>(),
            MeanResponseLength: responses.Average(x => (double)x.Length),
            StoppedFraction: stopped.Count(s => s) / (double)stopped.Length,
            ExplainedVariance: ValueLoss.ExplainedVariance(values, returns, actionMask));
        var experience = new Experience(sequences, attention, actionMask, policyScores.LogProbs, referenceLogProbs,
            values, rewards, advantages, returns).DetachFromDisposeScope();
        return (experience, summary);
    }

    /// <summary>Responses from the batched sampler, <see cref="PpoOptions.RolloutBatchSize"/> prompts per call.</summary>
    private (List<int[]> Prompts, List<int[]> Responses, bool[] Stopped) Sample(IReadOnlyList<int[]> prompts, long seed, CancellationToken cancellationToken)
    {
        var o = _options;
        var promptRows = new List<int[]>();
        var responses = new List<int[]>();
        var stopped = new List<bool>();
        for (int start = 0, chunk = 0; start < prompts.Count; start += o.RolloutBatchSize, chunk++)
        {
            var batch = prompts.Skip(start).Take(o.RolloutBatchSize).ToList();
            var sampling = new SamplingOptions
            {
                MaxNewTokens = o.MaxNewTokens,
                Temperature = o.Temperature,
                SamplesPerPrompt = o.SamplesPerPrompt,
                StopAtEos = o.StopAtEos,
                StopTokenIds = o.StopTokenIds,
                Seed = unchecked(seed + chunk),
            };
            foreach (var g in _policy.Sampler.Generate(batch, sampling, cancellationToken: cancellationToken))
            {
                promptRows.Add(batch[g.PromptIndex]);
                responses.Add(g.Tokens);
                stopped.Add(g.FinishReason != FinishReason.Length);
            }
        }
        return (promptRows, responses, stopped.ToArray());
    }

    private float[] Score(List<int[]> prompts, List<int[]> responses, bool[] stopped, CancellationToken cancellationToken)
    {
        var scores = _reward.Score(prompts, responses, cancellationToken);
        if (scores is null || scores.Length != responses.Count)
            throw new InvalidOperationException($"The reward model returned {scores?.Length ?? 0} scores for {responses.Count} responses.");
        for (int i = 0; i < scores.Length; i++)
        {
            if (!float.IsFinite(scores[i])) throw new InvalidOperationException($"The reward model's score for sample {i} is {scores[i]}.");
            if (!stopped[i] && _options.MissingEosPenalty is double penalty) scores[i] -= (float)penalty;
        }
        return scores;
    }

    /// <summary>Left-padded prompts then right-padded responses, as <see cref="Experience"/> lays them out.</summary>
    private (Tensor Sequences, Tensor Attention, Tensor ActionMask) Collate(List<int[]> prompts, List<int[]> responses)
    {
        int b = prompts.Count, p = prompts.Max(x => x.Length), r = responses.Max(x => x.Length);
        var ids = new long[b * (p + r)];
        var attention = new long[b * (p + r)];
        var action = new float[b * r];
        Array.Fill(ids, _padId);
        for (int i = 0; i < b; i++)
        {
            int row = i * (p + r), offset = p - prompts[i].Length;
            for (int j = 0; j < prompts[i].Length; j++) { ids[row + offset + j] = prompts[i][j]; attention[row + offset + j] = 1; }
            for (int j = 0; j < responses[i].Length; j++) { ids[row + p + j] = responses[i][j]; attention[row + p + j] = 1; action[i * r + j] = 1; }
        }
        var device = _policy.Model.Device;
        return (tensor(ids, [b, p + r], device: device), tensor(attention, [b, p + r], device: device), tensor(action, [b, r], device: device));
    }

    /// <summary>-beta x KL on every response token, plus the score on each response's last token.</summary>
    private static Tensor RewardsPerToken(Tensor kl, float[] scores, List<int[]> responses, double klCoefficient)
    {
        long r = kl.shape[1];
        var final = new float[scores.Length * r];
        for (int i = 0; i < scores.Length; i++) final[i * r + responses[i].Length - 1] = scores[i];
        return -klCoefficient * kl + tensor(final, [scores.Length, r], device: kl.device);
    }
}
