using Cai.Core.Data;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training.Data;
using Cai.Training.Ppo;
using Cai.Training.PreferenceModel;
using Cai.Training.Sft;
using TorchSharp;

namespace Cai.Training.Jobs;

/// <summary>
/// The three training stages of a CAI run from model folders to a model folder: SFT on revisions, the preference
/// model on soft labels, PPO against the PM. The sft, preference-model and ppo services and the in-process pipeline
/// call these same entry points, so a run trains the same way whichever executes it. Each blocks the calling
/// thread (run them on a worker thread), honours cancellation and resumes from the newest checkpoint in the
/// output folder when its options ask for it.
/// </summary>
public static class StageTraining
{
    /// <summary>Fine-tunes <paramref name="baseModel"/> on <paramref name="examples"/> (already mixed) into <paramref name="outputDir"/>.</summary>
    public static TrainingResult Sft(string baseModel, string outputDir, SftOptions options, IReadOnlyList<SftExample> examples,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        using var tokenizer = HfTokenizer.Load(baseModel);
        using var policy = Checkpoint.LoadCausalLM(baseModel);
        return new SftTrainer(policy, tokenizer, options, baseModel).Train(examples, outputDir, progress, cancellationToken);
    }

    /// <summary>
    /// Trains a preference model (the trunk of <paramref name="initModel"/> plus a fresh scalar head) on
    /// <paramref name="comparisons"/>; returns the result and the final model's accuracy on its training comparisons
    /// (NaN when no comparison has a better side).
    /// </summary>
    public static (TrainingResult Result, double TrainAccuracy) PreferenceModel(string initModel, string outputDir, PmOptions options,
        IReadOnlyList<PreferenceComparison> comparisons, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken,
        int scoreBatchSize = 16, int calibrationBins = 10)
    {
        using var tokenizer = HfTokenizer.Load(initModel);
        using var pm = ScalarHeadModel.FromCausalLM(initModel, seed: unchecked((long)options.Seed));
        var trained = new PreferenceModelTrainer(pm, tokenizer, options, initModel).Train(comparisons, outputDir, progress, cancellationToken);
        if (comparisons.All(c => c.PreferA == 0.5)) return (trained, double.NaN);
        var scorer = new PreferenceModelScorer(pm, tokenizer, scoreBatchSize, options.ContextLength, options.AppendEos);
        var fit = new PreferenceModelEvaluator(scorer, calibrationBins).Evaluate(comparisons, cancellationToken);
        return (trained, fit.Accuracy);
    }

    /// <summary>
    /// Optimises <paramref name="policyModel"/> with PPO against the preference model in <paramref name="rewardModel"/>
    /// (which must share the policy's tokenizer) on <paramref name="prompts"/>, with a KL penalty to a frozen copy of
    /// the starting policy.
    /// </summary>
    /// <exception cref="ArgumentException">The reward model's vocabulary differs from the policy's (names "reward_model").</exception>
    public static PpoResult Ppo(string policyModel, string rewardModel, string outputDir, PpoOptions options,
        IReadOnlyList<PromptRecord> prompts, IProgress<PpoStepStats>? progress, CancellationToken cancellationToken)
    {
        using var tokenizer = HfTokenizer.Load(policyModel);
        using var lm = Checkpoint.LoadCausalLM(policyModel);
        using var preferenceModel = ScalarHeadModel.Load(rewardModel);
        if (preferenceModel.Config.VocabSize != lm.Config.VocabSize)
            throw new ArgumentException($"has vocab_size {preferenceModel.Config.VocabSize} but the policy has {lm.Config.VocabSize}: the preference model must share the policy's tokenizer", "reward_model");
        var promptIds = prompts.Select(p => tokenizer.Encode(p.Prompt.RenderPrompt())).ToList();

        var policy = new PolicyModel(lm, tokenizer);
        var reference = ReferenceModel.CopyOf(policy);
        var value = ValueModel.Create(options.ValueModelSource, policy, preferenceModel);
        // After the value model took its copy: the frozen models may run in bf16 (forward passes only).
        if (options.FrozenModelsDtype != torch.ScalarType.Float32)
        {
            reference.Model.to(options.FrozenModelsDtype);
            preferenceModel.to(options.FrozenModelsDtype);
        }
        // The reward reads token ids of the policy's tokenizer, which the preference model shares.
        var reward = new PreferenceModelReward(new PreferenceModelScorer(preferenceModel, tokenizer));
        Directory.CreateDirectory(outputDir);
        using var log = new PpoJsonlLog(Path.Combine(outputDir, PpoLogFile));
        var both = new Both<PpoStepStats>(log, progress);
        try
        {
            return new PpoTrainer(policy, reference, value, reward, options, policyModel).Train(promptIds, outputDir, both, cancellationToken);
        }
        finally
        {
            reference.Model.Dispose();
            value.Model.Dispose();
        }
    }

    /// <summary>The per-iteration statistics PPO appends in its output folder (one JSON line per iteration; a resumed run appends).</summary>
    public const string PpoLogFile = "log.jsonl";

    /// <summary>
    /// PPO options from the figures a request or a run configuration gives (0 keeps <see cref="PpoOptions"/>'s
    /// default; <paramref name="klTarget"/> 0 keeps beta fixed). A rollout smaller than a minibatch is one minibatch.
    /// </summary>
    public static PpoOptions PpoOptionsFor(int iterations, int promptsPerIteration, int maxNewTokens, double learningRate,
        double klCoefficient, double klTarget, int ppoEpochs, ulong seed, bool resume)
    {
        var d = new PpoOptions();
        int prompts = promptsPerIteration == 0 ? d.PromptsPerIteration : promptsPerIteration;
        return d with
        {
            Iterations = iterations == 0 ? d.Iterations : iterations,
            PromptsPerIteration = prompts,
            MiniBatchSize = Math.Min(d.MiniBatchSize, prompts * d.SamplesPerPrompt),
            MaxNewTokens = maxNewTokens == 0 ? d.MaxNewTokens : maxNewTokens,
            LearningRate = learningRate == 0 ? d.LearningRate : learningRate,
            KlCoefficient = klCoefficient == 0 ? d.KlCoefficient : klCoefficient,
            AdaptiveKl = klTarget > 0,
            KlTarget = klTarget > 0 ? klTarget : d.KlTarget,
            PpoEpochs = ppoEpochs == 0 ? d.PpoEpochs : ppoEpochs,
            Seed = seed,
            ResumeFromCheckpoint = resume,
        };
    }

    private sealed class Both<T>(IProgress<T> first, IProgress<T>? second) : IProgress<T>
    {
        public void Report(T value)
        {
            first.Report(value);
            second?.Report(value);
        }
    }
}
