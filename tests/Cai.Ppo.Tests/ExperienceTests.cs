using Cai.Modeling;
using Cai.Modeling.Scoring;
using Cai.Training.PreferenceModel;
using Cai.Training.Ppo;
using TorchSharp;
using static Cai.Ppo.Tests.TestSupport;
using static TorchSharp.torch;

namespace Cai.Ppo.Tests;

public class ExperienceTests
{
    private const int StopToken = 4;

    [Fact]
    public void PaddedExperienceMatchesScoringEachSampleAlone()
    {
        var (policy, reference, value) = Roles();
        var options = new PpoOptions
        {
            PromptsPerIteration = 8, SamplesPerPrompt = 2, RolloutBatchSize = 3, MaxNewTokens = 8, MiniBatchSize = 4,
            StopTokenIds = [StopToken], MissingEosPenalty = 1, AdaptiveKl = false, KlCoefficient = 0.1, WhitenAdvantages = false,
        };
        var prompts = Prompts();
        var (experience, summary) = new ExperienceMaker(policy, reference, value, new ConstantReward(0.5f), options).Make(prompts, 0.1, samplingSeed: 42);
        using var _ = experience;

        int p = prompts.Max(x => x.Length), r = experience.ResponseLength;
        Assert.Equal([16L, p + r], experience.Sequences.shape);
        Assert.Equal([16L, r], experience.Advantages.shape);
        var ids = experience.Sequences.data<long>().ToArray();
        var mask = experience.ActionMask.data<float>().ToArray();
        var oldLogProbs = experience.OldLogProbs.data<float>().ToArray();
        var values = experience.Values.data<float>().ToArray();
        var rewardSums = experience.Rewards.sum(1).data<float>().ToArray();
        var scorer = new Scorer(policy.Model);
        int stoppedRows = 0, cutRows = 0;
        for (int row = 0; row < 16; row++)
        {
            var prompt = prompts[row / 2];
            int length = (int)mask.Skip(row * r).Take(r).Sum();
            var response = Enumerable.Range(0, length).Select(j => (int)ids[row * (p + r) + p + j]).ToArray();
            Assert.Equal(prompt, ids.Skip(row * (p + r) + p - prompt.Length).Take(prompt.Length).Select(x => (int)x));

            // Left padding and the attention mask must not change what the policy or value model computes.
            var alone = scorer.Score([(prompt, response)])[0].TokenLogProbs;
            using var sequence = tensor(prompt.Concat(response).Select(x => (long)x).ToArray()).unsqueeze(0);
            var valuesAlone = value.Model.TokenValues(sequence).data<float>().ToArray();
            for (int j = 0; j < length; j++)
            {
                Assert.True(Math.Abs(alone[j] - oldLogProbs[row * r + j]) < 1e-4, $"row {row} token {j}: log p {oldLogProbs[row * r + j]} vs {alone[j]} unpadded");
                Assert.True(Math.Abs(valuesAlone[prompt.Length - 1 + j] - values[row * r + j]) < 1e-4, $"row {row} token {j}: value differs from unpadded");
            }

            // KL is 0 (the reference is a copy), so the reward is the score, less the penalty when cut at the limit.
            bool stopped = response[^1] == StopToken;
            if (stopped) stoppedRows++; else { cutRows++; Assert.Equal(options.MaxNewTokens, length); }
            Assert.Equal(stopped ? 0.5 : -0.5, rewardSums[row], 4);
        }
        Assert.True(stoppedRows > 0 && cutRows > 0, "the seed should give both stopped and cut responses");
        Assert.Equal(stoppedRows / 16.0, summary.StoppedFraction, 6);
        Assert.Equal(0, summary.MeanKl, 5);
        Assert.True(experience.OldLogProbs.allclose(experience.ReferenceLogProbs));
    }

    [Fact]
    public void ValueModelFromThePreferenceModelIsAnIndependentCopy()
    {
        var (policy, _, _) = Roles();
        using var pm = new ScalarHeadModel(Tiny(), seed: 9);
        var value = ValueModel.Create(ValueModelSource.PreferenceModel, policy, pm);
        AssertIdentical(pm, value.Model);
        using (no_grad()) value.Model.parameters().First().add_(1);
        Assert.False(pm.parameters().First().eq(value.Model.parameters().First()).all().item<bool>());
        Assert.Throws<ArgumentException>(() => ValueModel.Create(ValueModelSource.PreferenceModel, policy, null));
    }

    [Fact]
    public void PreferenceModelRewardScoresPromptFollowedByResponse()
    {
        using var pm = new ScalarHeadModel(Tiny(), seed: 9);
        var scorer = new PreferenceModelScorer(pm, new IdTokenizer(), contextLength: 32);
        int[][] prompts = [[1, 5, 6], [1, 7]], responses = [[8, 9, 2], [10]];
        var rewards = new PreferenceModelReward(scorer).Score(prompts, responses);
        var expected = scorer.Score([[1, 5, 6, 8, 9, 2], [1, 7, 10]]);
        Assert.Equal(expected, rewards);
        Assert.NotEqual(rewards[0], rewards[1]);
    }

    [Fact]
    public void FrozenModelsInBf16GiveFloat32OutputsCloseToTheirFloat32Ones()
    {
        // PpoOptions.FrozenModelsDtype: the reference and the preference model may run in bf16; what PPO reads from
        // them (log-probabilities, scores) stays float32 and close to the float32 models' values.
        var (_, reference, _) = Roles();
        using var pm = new ScalarHeadModel(Tiny(), seed: 9);
        var scorer = new PreferenceModelScorer(pm, new IdTokenizer(), contextLength: 32);
        int[][] dialogues = [[1, 5, 6, 8, 9, 2], [1, 7, 10, 11, 3, 4]];
        var sequences = tensor(dialogues.SelectMany(d => d.Select(t => (long)t)).ToArray(), [2, 6]);
        var attention = ones_like(sequences);
        var f32Scores = scorer.Score(dialogues);
        var f32LogProbs = reference.LogProbs(sequences, attention, 3);

        pm.to(ScalarType.BFloat16);
        reference.Model.to(ScalarType.BFloat16);
        var bf16Scores = scorer.Score(dialogues);
        var bf16LogProbs = reference.LogProbs(sequences, attention, 3);

        Assert.Equal(ScalarType.Float32, bf16LogProbs.dtype);
        Assert.False(bf16LogProbs.eq(f32LogProbs).all().item<bool>(), "the reference did not run in bf16");
        Assert.True(bf16LogProbs.allclose(f32LogProbs, rtol: 0, atol: 0.05), "bf16 log-probabilities far from float32's");
        for (int i = 0; i < dialogues.Length; i++)
            Assert.InRange(bf16Scores[i], f32Scores[i] - 0.05f, f32Scores[i] + 0.05f);
    }
}

public class ExperienceSelectTests
{
    [Fact]
    public void MinibatchDropsOnlyColumnsNoSelectedRowUses()
    {
        // Row 0: prompt of 1 token (3 pads), response of 1; row 1: prompt of 3 (1 pad), response of 2; row 2: prompt of 4, response of 3.
        var sequences = tensor(new long[,] { { 0, 0, 0, 5, 6, 0, 0 }, { 0, 5, 5, 5, 7, 8, 0 }, { 5, 5, 5, 5, 9, 9, 9 } });
        var attention = sequences.ne(0).to(ScalarType.Int64);
        var actions = tensor(new float[,] { { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 1 } });
        var perToken = tensor(new float[,] { { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } });
        using var experience = new Experience(sequences, attention, actions, perToken, perToken, perToken, perToken, perToken, perToken);

        var minibatch = experience.Select([1, 0]);

        // Both rows share one pad column on the left; neither uses response column 2.
        Assert.Equal([2L, 5], minibatch.Sequences.shape);
        Assert.Equal(new long[] { 5, 5, 5, 7, 8, 0, 0, 5, 6, 0 }, minibatch.Sequences.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 0, 0, 1, 1, 0 }, minibatch.AttentionMask.data<long>().ToArray());
        Assert.Equal(new float[] { 4, 5, 1, 2 }, minibatch.Advantages.data<float>().ToArray());
        Assert.Equal(2, minibatch.ResponseLength);
        Assert.Equal([2L, 7], experience.Select([2, 0]).Sequences.shape);
    }
}
