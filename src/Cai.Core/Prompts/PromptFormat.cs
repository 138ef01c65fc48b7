namespace Cai.Core.Prompts;

/// <summary>
/// The paper's prompt markers, used verbatim, and the project's few-shot separator. Every prompt the project
/// builds (and the synthetic world's demonstrations) is composed from these, so they live in one place.
/// </summary>
public static class PromptFormat
{
    /// <summary>Introduces a critique request after the assistant's response.</summary>
    public const string CritiqueRequestMarker = "CritiqueRequest:";

    /// <summary>Introduces the model's critique.</summary>
    public const string CritiqueMarker = "Critique:";

    /// <summary>Introduces a revision request.</summary>
    public const string RevisionRequestMarker = "RevisionRequest:";

    /// <summary>Introduces the model's revision.</summary>
    public const string RevisionMarker = "Revision:";

    /// <summary>Opens a multiple-choice feedback question.</summary>
    public const string FeedbackPreamble = "Consider the following conversation between a human and an assistant:";

    /// <summary>Introduces the lettered options of a feedback question.</summary>
    public const string OptionsMarker = "Options:";

    /// <summary>Ends a feedback question; the option continuations " (A)", " (B)", ... are scored after it.</summary>
    public const string AnswerMarker = "The answer is:";

    /// <summary>Ends a chain-of-thought feedback question; the model writes its reasoning after it.</summary>
    public const string ChainOfThoughtMarker = "Let's think step by step:";

    /// <summary>
    /// Separates few-shot demonstrations from each other and from the question, so a demonstration's revision
    /// is not read as the start of the next conversation.
    /// </summary>
    public const string ExampleSeparator = "\n\n-----";
}
