using Cai.Core.Dialogues;

namespace Cai.Core.Data;

/// <summary>
/// One human comparison from Anthropic's hh-rlhf data: the conversation so far, and the assistant's final reply
/// that the labeller preferred (chosen) and the one they did not (rejected).
/// </summary>
/// <param name="Line">1-based line in the source file.</param>
/// <param name="Prompt">The conversation before the final reply (taken from the chosen dialogue).</param>
/// <param name="Chosen">The preferred final assistant reply.</param>
/// <param name="Rejected">The other final assistant reply.</param>
/// <param name="ContextsMatch">
/// False for the few rows whose chosen and rejected dialogues differ before the final reply; such rows compare
/// replies to different conversations and are usually left out of evaluations.
/// </param>
public sealed record HhRlhfComparison(int Line, Dialogue Prompt, string Chosen, string Rejected, bool ContextsMatch)
{
    /// <summary>
    /// True when both replies answer the same conversation and it ends with a human turn. A few source rows are not:
    /// besides diverging contexts, some glue a "Human:" into an assistant turn without the blank line, so the
    /// conversation seems to end with the assistant. Evaluations should keep only well-formed rows.
    /// </summary>
    public bool IsWellFormed => ContextsMatch && Prompt.EndsWithHuman;
}

/// <summary>Reads hh-rlhf JSON Lines files (optionally .gz) of <c>{"chosen", "rejected"}</c> full dialogues.</summary>
public static class HhRlhfFile
{
    /// <summary>Reads every comparison of a file.</summary>
    /// <exception cref="DataFormatException">A line is malformed.</exception>
    public static IReadOnlyList<HhRlhfComparison> Load(string path, CancellationToken cancellationToken = default) =>
        [.. Read(path, cancellationToken)];

    /// <summary>Streams the comparisons of a file.</summary>
    public static IEnumerable<HhRlhfComparison> Read(string path, CancellationToken cancellationToken = default)
    {
        foreach (var (row, line) in JsonLines.Read(path, cancellationToken))
        {
            var (chosenPrompt, chosen) = Split(JsonLines.RequiredString(row, "chosen", path, line), "chosen", path, line);
            var (rejectedPrompt, rejected) = Split(JsonLines.RequiredString(row, "rejected", path, line), "rejected", path, line);
            yield return new HhRlhfComparison(line, chosenPrompt, chosen, rejected, chosenPrompt.Equals(rejectedPrompt));
        }
    }

    private static (Dialogue Prompt, string Response) Split(string text, string field, string path, int line)
    {
        if (!Dialogue.TryParse(text, out var dialogue))
        {
            throw new DataFormatException(path, line, field, "must be a Human/Assistant dialogue ending with an assistant reply");
        }

        // A few rows end with an empty reply ("...\n\nAssistant:"), which parsing reads as an open prompt.
        if (dialogue!.EndsWithHuman && text.TrimEnd().EndsWith(DialogueFormat.AssistantMarker, StringComparison.Ordinal))
        {
            dialogue = dialogue.WithAssistant(string.Empty);
        }

        if (dialogue.LastTurn?.Role != Role.Assistant)
        {
            throw new DataFormatException(path, line, field, "must be a Human/Assistant dialogue ending with an assistant reply");
        }

        var (prompt, response) = dialogue.SplitLastResponse();
        return prompt.Turns.Any(t => t.Role == Role.Human)
            ? (prompt, response)
            : throw new DataFormatException(path, line, field, "must have a human turn before the final assistant reply");
    }
}
