namespace Cai.Training.Pretraining;

/// <summary>
/// Hyperparameters of causal language-model pretraining: how the helpful-only base model that every
/// CAI stage starts from learns its corpus. The optimisation settings (AdamW, warmup and cosine
/// decay, clipping, bf16 compute, seed, checkpoints) are inherited from <see cref="TrainingOptions"/>;
/// <see cref="TrainingOptions.ContextLength"/> is the length of each packed training sequence.
/// </summary>
public sealed record PretrainingOptions : TrainingOptions
{
    public PretrainingOptions()
    {
        // Pretraining from scratch wants a higher peak rate and a longer warmup than fine-tuning.
        LearningRate = 2e-3;
        WarmupSteps = 30;
        WeightDecay = 0.1;
        ContextLength = 512;
        BatchSize = 8;
    }

    /// <summary>Stops after about this many optimizer steps (null: every packed sequence every epoch).
    /// The run is shortened by training each epoch on the first packed sequences of the seeded document
    /// order, so a short run still sees varied text; the step count is rounded up to a whole number of
    /// steps per epoch.</summary>
    public int? MaxSteps { get; init; }

    public override IReadOnlyList<string> Validate()
    {
        var errors = base.Validate().ToList();
        if (MaxSteps is < 1) errors.Add($"{nameof(MaxSteps)} must be >= 1 when set (got {MaxSteps})");
        return errors;
    }
}
