namespace Cai.Core.Constitutions;

// The on-disk shape of a constitution (YAML or JSON, snake_case keys). Kept apart from the validated model so
// that the file format can reference principles by id while the model holds resolved text.
// See constitutions/README.md for the documented format.
internal sealed class ConstitutionDocument
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public List<CritiqueRevisionPrincipleDocument?>? CritiqueRevisionPrinciples { get; set; }
    public List<FeedbackPrincipleDocument?>? FeedbackPrinciples { get; set; }
    public List<CritiqueRevisionExampleDocument?>? CritiqueRevisionExamples { get; set; }
    public List<FeedbackExampleDocument?>? FeedbackExamples { get; set; }
    public List<FeedbackExampleDocument?>? ChainOfThoughtExamples { get; set; }
}

internal sealed class CritiqueRevisionPrincipleDocument
{
    public string? Id { get; set; }
    public string? CritiqueRequest { get; set; }
    public string? RevisionRequest { get; set; }
}

internal sealed class FeedbackPrincipleDocument
{
    public string? Id { get; set; }
    public string? Text { get; set; }
}

internal sealed class TurnDocument
{
    public string? Human { get; set; }
    public string? Assistant { get; set; }
}

internal sealed class CritiqueRevisionExampleDocument
{
    public string? Id { get; set; }
    public string? Principle { get; set; }
    public string? CritiqueRequest { get; set; }
    public string? RevisionRequest { get; set; }
    public List<TurnDocument?>? Prompt { get; set; }
    public string? Response { get; set; }
    public string? Critique { get; set; }
    public string? Revision { get; set; }
}

internal sealed class FeedbackExampleDocument
{
    public string? Id { get; set; }
    public string? Principle { get; set; }
    public string? PrincipleText { get; set; }
    public List<TurnDocument?>? Conversation { get; set; }
    public List<string?>? Options { get; set; }
    public string? Reasoning { get; set; }
    public string? Answer { get; set; }
}
