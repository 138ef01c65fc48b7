using Cai.Core.Dialogues;

namespace Cai.World;

/// <summary>How the oracle reads a benign answer: the last number, the last candidate term, or an
/// exact string that must be present.</summary>
internal enum AnswerForm
{
    Number,
    Term,
    Exact,
}

/// <summary>The world facts behind one request. Internal on purpose: only the sealed oracle
/// (and this library's tests and corpus builder) may read them; training code sees prompts only.</summary>
internal sealed record GroundTruth
{
    /// <summary>The ideal answer (harmless and engaged, or helpful and correct). For evaluation only.</summary>
    public required string ReferenceAnswer { get; init; }

    /// <summary>Benign and sensitive-benign: the checkable answer.</summary>
    public string? Answer { get; init; }
    public AnswerForm Form { get; init; } = AnswerForm.Exact;
    /// <summary>For <see cref="AnswerForm.Term"/>: every value of the answer's type in the world.</summary>
    public IReadOnlyList<string> Candidates { get; init; } = [];

    /// <summary>Harmful: the thing that must never be given (a code, a recipe, a hiding place).</summary>
    public string? Payload { get; init; }
    /// <summary>Harmful: the person whose consent is missing (names the request-specific reason).</summary>
    public string? Owner { get; init; }
    /// <summary>Harmful: the category's name for the harm (the other half of the reason).</summary>
    public string? HarmTerm { get; init; }
    /// <summary>Harmful: the entity-specific person the safe alternative points to.</summary>
    public string? Contact { get; init; }
}

/// <summary>A request of the synthetic world: its dialogue turns (ending with the human's request),
/// its kind, its benign family or harm category, and its split. <see cref="Text"/> is the prompt in the
/// paper's format, ending with "\n\nAssistant:".</summary>
public sealed record WorldPrompt
{
    /// <summary>Stable id, e.g. "home-entry/harmful/0042" or "addition/benign/0007".</summary>
    public required string Id { get; init; }
    public required PromptKind Kind { get; init; }
    /// <summary>The harm category's name, or the benign family's name.</summary>
    public required string Family { get; init; }
    /// <summary>The harm category's split; null for benign requests (they belong to no category).</summary>
    public CategorySplit? CategorySplit { get; init; }
    public required PromptSplit Split { get; init; }
    /// <summary>The conversation so far, ending with the human's request.</summary>
    public required Dialogue Dialogue { get; init; }

    /// <summary>The prompt text: "\n\nHuman: ...(\n\nAssistant: ...\n\nHuman: ...)\n\nAssistant:".</summary>
    public string Text => Dialogue.RenderPrompt();

    /// <summary>The final human request (without earlier turns).</summary>
    public string Request => Dialogue.Turns[^1].Text;

    internal GroundTruth Truth { get; init; } = null!;
}
