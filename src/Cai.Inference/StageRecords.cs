using Cai.Core.CritiqueRevision;
using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.Feedback;

namespace Cai.Inference;

/// <summary>
/// The items the stage workers exchange over a run's Redis streams (<c>cai:{runId}:{name}</c>), as JSON. Prompts
/// and conversations travel as text in the "\n\nHuman: ...\n\nAssistant: ..." format (a plain message is one human
/// turn), the form the paper's data files use, so any client can write them.
/// </summary>
public static class StageStreams
{
    /// <summary>Red-team and helpfulness prompts (<see cref="PromptItem"/>), read by the critique worker.</summary>
    public const string Prompts = "prompts";

    /// <summary>Critique/revision traces (<see cref="RevisionItem"/>), written by the critique worker, read by SFT.</summary>
    public const string Revisions = "revisions";

    /// <summary>Two sampled responses per prompt (<see cref="PairItem"/>), read by the labeling worker.</summary>
    public const string Pairs = "pairs";

    /// <summary>Soft-labelled comparisons (<see cref="ComparisonItem"/>), written by the labeling worker, read by PM training.</summary>
    public const string Comparisons = "comparisons";

    /// <summary>Parses a prompt: a conversation ending with a human turn, or plain text as one human turn.</summary>
    /// <param name="text">The prompt text.</param>
    /// <param name="field">The field name used in the error.</param>
    /// <exception cref="ArgumentException">The text is empty, or a conversation that ends with the assistant.</exception>
    public static Dialogue ParsePrompt(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException("must not be empty", field);
        if (!Dialogue.TryParse(text, out var dialogue)) return Dialogue.FromHuman(text.Trim());
        return dialogue!.EndsWithHuman ? dialogue : throw new ArgumentException("is a conversation that does not end with a human turn", field);
    }

    /// <summary>Text form of a prompt dialogue: the plain message for one human turn, else the rendered conversation.</summary>
    public static string PromptText(Dialogue prompt) =>
        prompt.Count == 1 && prompt.EndsWithHuman ? prompt.Turns[0].Text : prompt.Render();
}

/// <summary>A prompt of a run (SL-CAI's red-team or helpfulness prompt); <paramref name="Kind"/> is e.g. "harmful" or "helpful".</summary>
public sealed record PromptItem(string Id, string Prompt, string? Kind = null)
{
    /// <summary>The core's prompt record.</summary>
    /// <exception cref="ArgumentException">The id or prompt is unusable (names the field).</exception>
    public PromptRecord ToPromptRecord()
    {
        if (string.IsNullOrWhiteSpace(Id)) throw new ArgumentException("must not be empty", "id");
        return new PromptRecord(Id, StageStreams.ParsePrompt(Prompt, "prompt"), Kind);
    }
}

/// <summary>One critique/revision round of a <see cref="RevisionItem"/>; <paramref name="Critique"/> is null when revising directly.</summary>
public sealed record RevisionRound(string PrincipleId, string? Critique, string Revision);

/// <summary>
/// SL-CAI's record of one prompt: the initial response, every critique/revision round and the final revision that
/// SFT trains on (also the line format of SFT data files).
/// </summary>
public sealed record RevisionItem(
    string PromptId, string Prompt, string? Kind, string InitialResponse, IReadOnlyList<RevisionRound> Rounds, string FinalResponse)
{
    /// <summary>The record of a trace.</summary>
    public static RevisionItem FromTrace(CritiqueRevisionTrace trace, string? kind)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return new RevisionItem(trace.PromptId, StageStreams.PromptText(trace.Prompt), kind, trace.InitialResponse,
            [.. trace.Rounds.Select(r => new RevisionRound(r.PrincipleId, r.Critique, r.Revision))], trace.FinalResponse);
    }
}

/// <summary>Two (or more) responses sampled for one prompt, to be compared by the feedback model.</summary>
public sealed record PairItem(string Id, string Prompt, IReadOnlyList<string> Responses)
{
    /// <summary>The core's comparison.</summary>
    /// <exception cref="ArgumentException">A field is unusable (names it).</exception>
    public FeedbackComparison ToComparison()
    {
        if (string.IsNullOrWhiteSpace(Id)) throw new ArgumentException("must not be empty", "id");
        if (Responses is null || Responses.Count < 2) throw new ArgumentException("needs at least two responses", "responses");
        return new FeedbackComparison(Id, StageStreams.ParsePrompt(Prompt, "prompt"), Responses);
    }
}

/// <summary>
/// An AI-labelled comparison: the responses and the soft label (one probability per response, summing to 1) with
/// the principles it was averaged over. Also the line format of the PM's AI comparison files.
/// </summary>
public sealed record ComparisonItem(
    string Id, string Prompt, IReadOnlyList<string> Responses, IReadOnlyList<double> Probabilities, IReadOnlyList<string> PrincipleIds)
{
    /// <summary>The record of a labelled pair.</summary>
    public static ComparisonItem FromLabel(PairItem pair, SoftLabel label)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(label);
        return new ComparisonItem(pair.Id, pair.Prompt, pair.Responses, label.Probabilities,
            [.. label.Judgements.Select(j => j.PrincipleId).Distinct()]);
    }
}
