using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// Hyperparameters of RL-CAI's PPO stage. One iteration samples <see cref="PromptsPerIteration"/> x
/// <see cref="SamplesPerPrompt"/> responses, scores them, and runs <see cref="PpoEpochs"/> passes of
/// clipped updates over them in minibatches of <see cref="MiniBatchSize"/>.
/// </summary>
public sealed record PpoOptions
{
    /// <summary>Rollout-and-update iterations of the whole run.</summary>
    public int Iterations { get; init; } = 60;

    /// <summary>Prompts drawn per iteration (in a seeded order, a fresh permutation per pass over the prompt set).</summary>
    public int PromptsPerIteration { get; init; } = 64;

    /// <summary>Responses sampled per prompt.</summary>
    public int SamplesPerPrompt { get; init; } = 1;

    /// <summary>Prompts per call of the batched sampler (bounds the KV cache's memory; decoding is fastest with
    /// many sequences in flight).</summary>
    public int RolloutBatchSize { get; init; } = 64;

    /// <summary>Most tokens per response; a response that reaches it without a stop token is cut there.</summary>
    public int MaxNewTokens { get; init; } = 48;

    /// <summary>Sampling temperature of the rollouts (1 samples the policy itself, which PPO's ratio assumes).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>End a response at EOS (the tokenizer's and the model config's eos_token_id).</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>More token ids that end a response (kept as its last token, e.g. the id that starts "Human:").</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Subtracted from the reward-model score of a response cut at <see cref="MaxNewTokens"/> without a
    /// stop token, so the policy learns to finish its answers; null leaves such scores alone.</summary>
    public double? MissingEosPenalty { get; init; }

    /// <summary>
    /// Precision of the frozen models, the KL reference and the preference model (the reward): Float32, or
    /// BFloat16 where bf16 matmuls are fast (they only run forward passes, and their outputs are read in float32).
    /// The policy and the value model always train in float32.
    /// </summary>
    public ScalarType FrozenModelsDtype { get; init; } = ScalarType.Float32;

    /// <summary>Samples per optimizer step (before splitting into accumulation micro-batches).</summary>
    public int MiniBatchSize { get; init; } = 16;

    /// <summary>Micro-batches per minibatch whose gradients are summed before a step: MiniBatchSize /
    /// this samples go through forward and backward at once, so large minibatches fit in small memory.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Passes over each iteration's rollouts (each in a fresh seeded order).</summary>
    public int PpoEpochs { get; init; } = 4;

    /// <summary>eps of the clipped policy ratio.</summary>
    public double ClipRange { get; init; } = 0.2;

    /// <summary>How far (in reward units) a value may move from its rollout-time value before its loss is clipped.</summary>
    public double ValueClipRange { get; init; } = 0.2;

    /// <summary>GAE discount; 1 because the only non-KL reward arrives at the end of a short episode.</summary>
    public double Gamma { get; init; } = 1.0;

    /// <summary>GAE lambda: bias (0) versus variance (1) of the advantage estimate.</summary>
    public double Lambda { get; init; } = 0.95;

    /// <summary>Weight of the value loss in the summed loss.</summary>
    public double ValueLossCoefficient { get; init; } = 0.1;

    /// <summary>Weight of the entropy bonus (0: none; the KL penalty already keeps the policy spread out).</summary>
    public double EntropyCoefficient { get; init; }

    /// <summary>Initial beta of the per-token KL penalty (the whole run's beta when <see cref="AdaptiveKl"/> is off).</summary>
    public double KlCoefficient { get; init; } = 0.05;

    /// <summary>kl_target: the per-sample KL to the reference (nats, summed over the response) that the
    /// adaptive controller steers toward.</summary>
    public double KlTarget { get; init; } = 6.0;

    /// <summary>Adapt beta toward <see cref="KlTarget"/> (Ziegler et al.) rather than keeping it fixed.</summary>
    public bool AdaptiveKl { get; init; } = true;

    /// <summary>Samples over which the adaptive controller's full correction acts. Smaller than TRL's
    /// 10000 because CAI runs see a few thousand samples in all.</summary>
    public double KlHorizon { get; init; } = 1000;

    /// <summary>Per-token KL estimator used in the reward.</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;

    /// <summary>Shift and scale advantages to mean 0, variance 1 over each iteration's response tokens.</summary>
    public bool WhitenAdvantages { get; init; } = true;

    /// <summary>AdamW learning rate of the policy (constant: PPO's trust region, not a schedule, bounds each step).</summary>
    public double LearningRate { get; init; } = 3e-5;

    /// <summary>AdamW learning rate of the value model.</summary>
    public double ValueLearningRate { get; init; } = 1e-4;

    /// <summary>Decoupled AdamW weight decay on matrices and embeddings.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Global gradient L2 norm each model is clipped to before a step; 0 disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Where the value model starts (used by <see cref="ValueModel.Create"/>).</summary>
    public ValueModelSource ValueModelSource { get; init; } = ValueModelSource.PreferenceModel;

    /// <summary>Seed of the prompt order, the rollouts and the minibatch order: a run is a function of it.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Save a resumable checkpoint every this many iterations; 0 saves none.</summary>
    public int CheckpointEvery { get; init; } = 10;

    /// <summary>Most recent checkpoints kept; 0 keeps all.</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Continue from the newest checkpoint in the output folder; when off, a folder holding checkpoints is refused.</summary>
    public bool ResumeFromCheckpoint { get; init; } = true;

    /// <summary>Samples per iteration.</summary>
    public int RolloutSize => PromptsPerIteration * SamplesPerPrompt;

    /// <summary>Problems with the values, each naming its property; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var e = new List<string>();
        void Need(bool ok, string name, object value, string rule) { if (!ok) e.Add($"{name} {rule} (got {value})"); }
        Need(Iterations >= 1, nameof(Iterations), Iterations, "must be >= 1");
        Need(PromptsPerIteration >= 1, nameof(PromptsPerIteration), PromptsPerIteration, "must be >= 1");
        Need(SamplesPerPrompt >= 1, nameof(SamplesPerPrompt), SamplesPerPrompt, "must be >= 1");
        Need(RolloutBatchSize >= 1, nameof(RolloutBatchSize), RolloutBatchSize, "must be >= 1");
        Need(MaxNewTokens >= 1, nameof(MaxNewTokens), MaxNewTokens, "must be >= 1");
        Need(Temperature > 0 && float.IsFinite(Temperature), nameof(Temperature), Temperature, "must be finite and > 0 (PPO needs sampled, not greedy, rollouts)");
        Need(MissingEosPenalty is null || double.IsFinite(MissingEosPenalty.Value), nameof(MissingEosPenalty), MissingEosPenalty!, "must be finite");
        Need(FrozenModelsDtype is ScalarType.Float32 or ScalarType.BFloat16, nameof(FrozenModelsDtype), FrozenModelsDtype, "must be Float32 or BFloat16");
        Need(MiniBatchSize >= 1 && MiniBatchSize <= RolloutSize, nameof(MiniBatchSize), MiniBatchSize, $"must be in [1, PromptsPerIteration x SamplesPerPrompt = {RolloutSize}]");
        Need(GradientAccumulationSteps >= 1 && MiniBatchSize % GradientAccumulationSteps == 0, nameof(GradientAccumulationSteps), GradientAccumulationSteps, $"must be >= 1 and divide MiniBatchSize ({MiniBatchSize})");
        Need(PpoEpochs >= 1, nameof(PpoEpochs), PpoEpochs, "must be >= 1");
        Need(ClipRange > 0, nameof(ClipRange), ClipRange, "must be > 0");
        Need(ValueClipRange > 0, nameof(ValueClipRange), ValueClipRange, "must be > 0");
        Need(Gamma >= 0 && Gamma <= 1, nameof(Gamma), Gamma, "must be in [0, 1]");
        Need(Lambda >= 0 && Lambda <= 1, nameof(Lambda), Lambda, "must be in [0, 1]");
        Need(ValueLossCoefficient >= 0, nameof(ValueLossCoefficient), ValueLossCoefficient, "must be >= 0");
        Need(EntropyCoefficient >= 0, nameof(EntropyCoefficient), EntropyCoefficient, "must be >= 0");
        Need(double.IsFinite(KlCoefficient) && (AdaptiveKl ? KlCoefficient > 0 : KlCoefficient >= 0), nameof(KlCoefficient), KlCoefficient, AdaptiveKl ? "must be > 0 with AdaptiveKl" : "must be >= 0");
        Need(KlTarget > 0 && double.IsFinite(KlTarget), nameof(KlTarget), KlTarget, "must be finite and > 0");
        Need(KlHorizon > 0 && double.IsFinite(KlHorizon), nameof(KlHorizon), KlHorizon, "must be finite and > 0");
        Need(LearningRate > 0, nameof(LearningRate), LearningRate, "must be > 0");
        Need(ValueLearningRate > 0, nameof(ValueLearningRate), ValueLearningRate, "must be > 0");
        Need(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be >= 0");
        Need(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "must be >= 0");
        Need(CheckpointEvery >= 0, nameof(CheckpointEvery), CheckpointEvery, "must be >= 0");
        Need(KeepCheckpoints >= 0, nameof(KeepCheckpoints), KeepCheckpoints, "must be >= 0");
        return e;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem of <see cref="Validate"/>.</summary>
    public PpoOptions ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0) throw new ArgumentException($"{nameof(PpoOptions)}: {string.Join("; ", errors)}.", "options");
        return this;
    }

    /// <summary>The controller these options ask for, starting from <paramref name="coefficient"/> (a resumed run's saved beta) or <see cref="KlCoefficient"/>.</summary>
    public IKlController CreateKlController(double? coefficient = null) => AdaptiveKl
        ? new AdaptiveKlController(coefficient ?? KlCoefficient, KlTarget, KlHorizon)
        : new FixedKlController(coefficient ?? KlCoefficient);
}
