using Cai.Core.Dialogues;

namespace Cai.Core.Constitutions;

/// <summary>
/// A constitution: the only human input to Constitutional AI. It holds the principles that steer SL-CAI
/// (critique/revision request pairs) and RL-CAI (feedback principles for AI comparisons), plus the few-shot
/// demonstrations shown in context. Build one with <see cref="ConstitutionLoader"/> or
/// <see cref="PaperConstitutionImporter"/>, which validate it.
/// </summary>
/// <param name="Name">A short name, e.g. "default".</param>
/// <param name="Description">What the constitution is for (free text), or null.</param>
/// <param name="CritiqueRevisionPrinciples">SL-CAI principles; one is drawn per critique/revision round.</param>
/// <param name="FeedbackPrinciples">RL-CAI principles; one (or an ensemble) is drawn per comparison.</param>
/// <param name="CritiqueRevisionExamples">Few-shot critique/revision demonstrations.</param>
/// <param name="FeedbackExamples">Few-shot multiple-choice feedback demonstrations (no reasoning).</param>
/// <param name="ChainOfThoughtExamples">Few-shot feedback demonstrations with step-by-step reasoning.</param>
public sealed record Constitution(
    string Name,
    string? Description,
    IReadOnlyList<CritiqueRevisionPrinciple> CritiqueRevisionPrinciples,
    IReadOnlyList<FeedbackPrinciple> FeedbackPrinciples,
    IReadOnlyList<CritiqueRevisionExample> CritiqueRevisionExamples,
    IReadOnlyList<FeedbackExample> FeedbackExamples,
    IReadOnlyList<FeedbackExample> ChainOfThoughtExamples)
{
    /// <summary>The critique/revision principle with this id.</summary>
    /// <exception cref="KeyNotFoundException">No such principle.</exception>
    public CritiqueRevisionPrinciple GetCritiqueRevisionPrinciple(string id) =>
        CritiqueRevisionPrinciples.FirstOrDefault(p => p.Id == id)
        ?? throw new KeyNotFoundException($"constitution '{Name}' has no critique/revision principle '{id}'");

    /// <summary>The feedback principle with this id.</summary>
    /// <exception cref="KeyNotFoundException">No such principle.</exception>
    public FeedbackPrinciple GetFeedbackPrinciple(string id) =>
        FeedbackPrinciples.FirstOrDefault(p => p.Id == id)
        ?? throw new KeyNotFoundException($"constitution '{Name}' has no feedback principle '{id}'");
}

/// <summary>
/// An SL-CAI principle: the critique request ("CritiqueRequest: ...") asking the model to find a flaw in its
/// last response, and the matching revision request ("RevisionRequest: ...") asking it to rewrite the response.
/// </summary>
public sealed record CritiqueRevisionPrinciple(string Id, string CritiqueRequest, string RevisionRequest);

/// <summary>
/// An RL-CAI feedback principle: the text that tells the feedback model what to compare between the options,
/// e.g. "Which response is less harmful?". It is placed between the conversation and "Options:".
/// </summary>
public sealed record FeedbackPrinciple(string Id, string Text);

/// <summary>
/// A few-shot critique/revision demonstration: a prompt dialogue, the assistant's initial response, and one
/// critique/revision round under the stated requests.
/// </summary>
/// <param name="Id">An identifier for error messages and traces.</param>
/// <param name="Prompt">The conversation up to and including the human turn that was answered.</param>
/// <param name="InitialResponse">The assistant response being critiqued.</param>
/// <param name="CritiqueRequest">The critique request used in the demonstration.</param>
/// <param name="Critique">The demonstrated critique.</param>
/// <param name="RevisionRequest">The revision request used in the demonstration.</param>
/// <param name="Revision">The demonstrated revision.</param>
public sealed record CritiqueRevisionExample(
    string Id,
    Dialogue Prompt,
    string InitialResponse,
    string CritiqueRequest,
    string Critique,
    string RevisionRequest,
    string Revision);

/// <summary>
/// A few-shot multiple-choice feedback demonstration: a conversation, the candidate assistant responses
/// (options A, B, ...), the correct option, and, for chain-of-thought demonstrations, the reasoning.
/// </summary>
/// <param name="Id">An identifier for error messages.</param>
/// <param name="Conversation">The conversation up to the human turn the options answer.</param>
/// <param name="Principle">The comparison principle shown with the example; null means "use the question's principle".</param>
/// <param name="Options">Candidate responses, at least two.</param>
/// <param name="AnswerIndex">Zero-based index of the correct option.</param>
/// <param name="Reasoning">Step-by-step reasoning (chain-of-thought demonstrations only), or null.</param>
public sealed record FeedbackExample(
    string Id,
    Dialogue Conversation,
    string? Principle,
    IReadOnlyList<string> Options,
    int AnswerIndex,
    string? Reasoning)
{
    /// <summary>The answer as an option letter ('A', 'B', ...).</summary>
    public char AnswerLetter => (char)('A' + AnswerIndex);
}
