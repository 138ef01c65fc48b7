using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.Feedback;

namespace Cai.Training.PreferenceModel;

/// <summary>
/// One preference-model training comparison: two assistant responses to the same prompt and the
/// (soft) probability that response A is the better one. RL-CAI's harmlessness comparisons carry
/// the feedback model's normalised option probability; human helpfulness comparisons (hh-rlhf's
/// chosen/rejected) carry 1.0.
/// </summary>
/// <param name="Prompt">The conversation before the responses, ending with a human turn.</param>
/// <param name="PreferA">p(A is preferred), in [0, 1].</param>
/// <param name="Source">Where the comparison came from (e.g. "harmlessness", "helpfulness"), for reports.</param>
public sealed record PreferenceComparison(Dialogue Prompt, string ResponseA, string ResponseB, double PreferA, string? Source = null)
{
    /// <summary>The full dialogue ending with response A.</summary>
    public Dialogue DialogueA => Prompt.WithAssistant(ResponseA);

    /// <summary>The full dialogue ending with response B.</summary>
    public Dialogue DialogueB => Prompt.WithAssistant(ResponseB);

    /// <summary>A human helpfulness comparison: the chosen reply is A with label 1.0.</summary>
    public static PreferenceComparison FromHhRlhf(HhRlhfComparison comparison, string source = "hh-rlhf")
    {
        ArgumentNullException.ThrowIfNull(comparison);
        return new PreferenceComparison(comparison.Prompt, comparison.Chosen, comparison.Rejected, 1.0, source);
    }

    /// <summary>
    /// An AI harmlessness comparison: the two responses of a labelled pair with the feedback model's
    /// soft label p(first response is better) (its normalised option probability, averaged over
    /// principles and orders).
    /// </summary>
    public static PreferenceComparison FromSoftLabel(FeedbackComparison comparison, SoftLabel label, string source = "harmlessness")
    {
        ArgumentNullException.ThrowIfNull(comparison);
        ArgumentNullException.ThrowIfNull(label);
        if (label.ComparisonId != comparison.Id)
            throw new ArgumentException($"label.ComparisonId '{label.ComparisonId}' does not match comparison.Id '{comparison.Id}'.", nameof(label));
        if (comparison.Responses.Count != 2 || label.Probabilities.Count != 2)
            throw new ArgumentException($"comparison '{comparison.Id}': a preference-model comparison needs exactly 2 responses and 2 probabilities (got {comparison.Responses.Count} and {label.Probabilities.Count}).", nameof(comparison));
        return new PreferenceComparison(comparison.Conversation, comparison.Responses[0], comparison.Responses[1], label.Probabilities[0], source);
    }

    /// <summary>Throws naming <paramref name="name"/> and the field at fault.</summary>
    public void Validate(string name)
    {
        if (Prompt is null) throw new ArgumentException($"{name}.Prompt is null.", name);
        if (!Prompt.EndsWithHuman) throw new ArgumentException($"{name}.Prompt must end with a human turn.", name);
        if (ResponseA is null) throw new ArgumentException($"{name}.ResponseA is null.", name);
        if (ResponseB is null) throw new ArgumentException($"{name}.ResponseB is null.", name);
        if (!(PreferA >= 0 && PreferA <= 1)) throw new ArgumentException($"{name}.PreferA must be a probability in [0, 1], got {PreferA}.", name);
    }
}

/// <summary>An encoded comparison: the token ids of both full dialogues and p(A preferred).</summary>
public sealed record EncodedComparison(int[] A, int[] B, float PreferA);
