namespace Cai.Training.PreferenceModel;

/// <summary>
/// Training the preference model of RL-CAI: a scalar head on the (SL-CAI or pretrained) trunk,
/// fitted to AI harmlessness labels mixed with helpfulness comparisons. Inherits the optimisation
/// settings of <see cref="TrainingOptions"/>; <see cref="TrainingOptions.BatchSize"/> counts comparisons.
/// </summary>
public sealed record PmOptions : TrainingOptions
{
    public PmOptions()
    {
        LearningRate = 1e-4;
        BatchSize = 8;
    }

    /// <summary>Helpfulness comparisons mixed in per harmlessness comparison (capped by those available).</summary>
    public double HelpfulMixRatio { get; init; } = 1.0;

    /// <summary>Close every dialogue with EOS: the score is read at that token (must match scoring).</summary>
    public bool AppendEos { get; init; } = true;

    public override IReadOnlyList<string> Validate()
    {
        var errors = base.Validate().ToList();
        if (!(HelpfulMixRatio >= 0)) errors.Add($"{nameof(HelpfulMixRatio)} must be >= 0 (got {HelpfulMixRatio})");
        return errors;
    }
}
