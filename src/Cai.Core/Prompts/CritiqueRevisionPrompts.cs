using System.Text;
using Cai.Core.Constitutions;
using Cai.Core.Dialogues;

namespace Cai.Core.Prompts;

/// <summary>
/// Builds the SL-CAI prompts: the critique prompt (conversation + "CritiqueRequest: ... Critique:"), the
/// revision prompt (critique prompt + critique + "RevisionRequest: ... Revision:") and the variant that revises
/// directly without a critique. Few-shot demonstrations are prepended (pass an empty list for zero-shot).
/// </summary>
public static class CritiqueRevisionPrompts
{
    /// <summary>The prompt that asks the model to critique <paramref name="response"/> under a principle.</summary>
    /// <param name="prompt">The conversation the response answers (ends with a human turn).</param>
    /// <param name="response">The assistant response to critique.</param>
    /// <param name="principle">The drawn principle; its critique request is used.</param>
    /// <param name="examples">Few-shot demonstrations to prepend (any number, 0 allowed).</param>
    public static string BuildCritique(
        Dialogue prompt, string response, CritiqueRevisionPrinciple principle, IReadOnlyList<CritiqueRevisionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(principle);
        var sb = new StringBuilder();
        AppendExamples(sb, examples, includeCritique: true);
        AppendConversation(sb, prompt, response);
        AppendSection(sb, PromptFormat.CritiqueRequestMarker, principle.CritiqueRequest);
        sb.Append(DialogueFormat.TurnSeparator).Append(PromptFormat.CritiqueMarker);
        return sb.ToString();
    }

    /// <summary>The prompt that asks for a revision after the model's <paramref name="critique"/>.</summary>
    public static string BuildRevision(
        Dialogue prompt, string response, CritiqueRevisionPrinciple principle, string critique,
        IReadOnlyList<CritiqueRevisionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(critique);
        var sb = new StringBuilder(BuildCritique(prompt, response, principle, examples));
        AppendText(sb, critique);
        AppendSection(sb, PromptFormat.RevisionRequestMarker, principle.RevisionRequest);
        sb.Append(DialogueFormat.TurnSeparator).Append(PromptFormat.RevisionMarker);
        return sb.ToString();
    }

    /// <summary>
    /// The ablation that skips the critique: conversation + "RevisionRequest: ... Revision:". Demonstrations are
    /// shown without their critiques, so the context matches the task.
    /// </summary>
    public static string BuildDirectRevision(
        Dialogue prompt, string response, CritiqueRevisionPrinciple principle, IReadOnlyList<CritiqueRevisionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(principle);
        var sb = new StringBuilder();
        AppendExamples(sb, examples, includeCritique: false);
        AppendConversation(sb, prompt, response);
        AppendSection(sb, PromptFormat.RevisionRequestMarker, principle.RevisionRequest);
        sb.Append(DialogueFormat.TurnSeparator).Append(PromptFormat.RevisionMarker);
        return sb.ToString();
    }

    /// <summary>One complete demonstration, as it appears in context (also what a pretraining corpus can contain).</summary>
    public static string RenderExample(CritiqueRevisionExample example, bool includeCritique)
    {
        ArgumentNullException.ThrowIfNull(example);
        var sb = new StringBuilder();
        AppendConversation(sb, example.Prompt, example.InitialResponse);
        if (includeCritique)
        {
            AppendSection(sb, PromptFormat.CritiqueRequestMarker, example.CritiqueRequest);
            AppendSection(sb, PromptFormat.CritiqueMarker, example.Critique);
        }

        AppendSection(sb, PromptFormat.RevisionRequestMarker, example.RevisionRequest);
        AppendSection(sb, PromptFormat.RevisionMarker, example.Revision);
        return sb.ToString();
    }

    private static void AppendExamples(StringBuilder sb, IReadOnlyList<CritiqueRevisionExample> examples, bool includeCritique)
    {
        ArgumentNullException.ThrowIfNull(examples);
        foreach (var example in examples)
        {
            sb.Append(RenderExample(example, includeCritique)).Append(PromptFormat.ExampleSeparator);
        }
    }

    private static void AppendConversation(StringBuilder sb, Dialogue prompt, string response)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(response);
        if (!prompt.EndsWithHuman)
        {
            throw new ArgumentException("the prompt dialogue must end with a human turn", nameof(prompt));
        }

        sb.Append(prompt.WithAssistant(response).Render());
    }

    private static void AppendSection(StringBuilder sb, string marker, string text)
    {
        sb.Append(DialogueFormat.TurnSeparator).Append(marker);
        AppendText(sb, text);
    }

    private static void AppendText(StringBuilder sb, string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Length > 0)
        {
            sb.Append(' ').Append(trimmed);
        }
    }
}
