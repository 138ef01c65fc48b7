using Cai.Core.Dialogues;

namespace Cai.Core.CritiqueRevision;

/// <summary>One critique/revision round: the principle drawn, the model's critique (null when revising directly) and its revision.</summary>
public sealed record CritiqueRevisionRound(int Round, string PrincipleId, string? Critique, string Revision);

/// <summary>
/// The full SL-CAI record of one prompt: the helpful-only model's initial response, every round, and the few-shot
/// demonstrations shown. <see cref="FinalResponse"/> is what SL-CAI fine-tunes on.
/// </summary>
public sealed record CritiqueRevisionTrace(
    string PromptId,
    Dialogue Prompt,
    string InitialResponse,
    IReadOnlyList<CritiqueRevisionRound> Rounds,
    IReadOnlyList<string> FewShotExampleIds)
{
    /// <summary>The last revision, or the initial response when there were no rounds.</summary>
    public string FinalResponse => Rounds.Count == 0 ? InitialResponse : Rounds[^1].Revision;
}
