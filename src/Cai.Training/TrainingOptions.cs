using static TorchSharp.torch;

namespace Cai.Training;

/// <summary>
/// Hyperparameters shared by the in-process trainers (SFT, preference model): AdamW with warmup and
/// cosine decay, gradient clipping and accumulation, the compute precision, seeded data order and
/// checkpointing. Each stage has its own sealed options record deriving from this one.
/// </summary>
public abstract record TrainingOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Examples per forward/backward pass (a micro-batch).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Micro-batches whose gradients are summed before one optimizer step; the effective
    /// batch is <see cref="BatchSize"/> x this.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Tokens per sequence: longer sequences are truncated (see each stage for which end).</summary>
    public int ContextLength { get; init; } = 256;

    /// <summary>Peak AdamW learning rate.</summary>
    public double LearningRate { get; init; } = 3e-4;

    /// <summary>Optimizer steps of linear warmup.</summary>
    public int WarmupSteps { get; init; } = 10;

    /// <summary>Final learning rate of the cosine decay as a fraction of the peak.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;

    /// <summary>Decoupled AdamW weight decay, applied to parameters of two or more dimensions (weight
    /// matrices and embeddings), never to norm gains or biases.</summary>
    public double WeightDecay { get; init; } = 0.01;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Global L2 norm the gradients are clipped to before each step; 0 disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Float32, or BFloat16 for forward/backward on a bf16 copy with float32 master weights.</summary>
    public ScalarType ComputeDtype { get; init; } = ScalarType.Float32;

    /// <summary>Seed of the data order (each epoch is a fresh permutation drawn from it).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Save a resumable checkpoint every this many optimizer steps; 0 saves none.</summary>
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Most recent checkpoints kept (older ones are deleted); 0 keeps all.</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Continue from the newest checkpoint in the output folder when there is one; when off,
    /// an output folder that holds checkpoints is refused rather than mixed with a new run's.</summary>
    public bool ResumeFromCheckpoint { get; init; } = true;

    /// <summary>Problems with the values, each naming its property; empty when valid.</summary>
    public virtual IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Epochs < 1) errors.Add($"{nameof(Epochs)} must be >= 1 (got {Epochs})");
        if (BatchSize < 1) errors.Add($"{nameof(BatchSize)} must be >= 1 (got {BatchSize})");
        if (GradientAccumulationSteps < 1) errors.Add($"{nameof(GradientAccumulationSteps)} must be >= 1 (got {GradientAccumulationSteps})");
        if (ContextLength < 2) errors.Add($"{nameof(ContextLength)} must be >= 2 (got {ContextLength})");
        if (!(LearningRate > 0)) errors.Add($"{nameof(LearningRate)} must be > 0 (got {LearningRate})");
        if (WarmupSteps < 0) errors.Add($"{nameof(WarmupSteps)} must be >= 0 (got {WarmupSteps})");
        if (!(MinLearningRateRatio >= 0 && MinLearningRateRatio <= 1)) errors.Add($"{nameof(MinLearningRateRatio)} must be in [0, 1] (got {MinLearningRateRatio})");
        if (!(WeightDecay >= 0)) errors.Add($"{nameof(WeightDecay)} must be >= 0 (got {WeightDecay})");
        if (!(Beta1 >= 0 && Beta1 < 1)) errors.Add($"{nameof(Beta1)} must be in [0, 1) (got {Beta1})");
        if (!(Beta2 >= 0 && Beta2 < 1)) errors.Add($"{nameof(Beta2)} must be in [0, 1) (got {Beta2})");
        if (!(Epsilon > 0)) errors.Add($"{nameof(Epsilon)} must be > 0 (got {Epsilon})");
        if (!(MaxGradNorm >= 0)) errors.Add($"{nameof(MaxGradNorm)} must be >= 0 (got {MaxGradNorm})");
        if (ComputeDtype is not (ScalarType.Float32 or ScalarType.BFloat16)) errors.Add($"{nameof(ComputeDtype)} must be Float32 or BFloat16 (got {ComputeDtype})");
        if (CheckpointEvery < 0) errors.Add($"{nameof(CheckpointEvery)} must be >= 0 (got {CheckpointEvery})");
        if (KeepCheckpoints < 0) errors.Add($"{nameof(KeepCheckpoints)} must be >= 0 (got {KeepCheckpoints})");
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem of <see cref="Validate"/>.</summary>
    public void ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0) throw new ArgumentException($"{GetType().Name}: {string.Join("; ", errors)}.", "options");
    }
}
