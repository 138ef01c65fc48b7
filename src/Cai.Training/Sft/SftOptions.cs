namespace Cai.Training.Sft;

/// <summary>
/// Supervised fine-tuning of the policy on (prompt, final revision) pairs, SL-CAI's second half.
/// Inherits the optimisation settings of <see cref="TrainingOptions"/>.
/// </summary>
public sealed record SftOptions : TrainingOptions
{
    /// <summary>Helpful examples mixed in per revision example (1.0: as many as there are revisions;
    /// capped by the helpful examples available). The paper mixed in helpful samples so the
    /// harmless model stays helpful.</summary>
    public double HelpfulMixRatio { get; init; } = 1.0;

    /// <summary>Close every response with EOS so the policy learns where an answer ends.</summary>
    public bool AppendEos { get; init; } = true;

    public override IReadOnlyList<string> Validate()
    {
        var errors = base.Validate().ToList();
        if (!(HelpfulMixRatio >= 0)) errors.Add($"{nameof(HelpfulMixRatio)} must be >= 0 (got {HelpfulMixRatio})");
        return errors;
    }
}
