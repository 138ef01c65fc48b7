using System.Text;

namespace Cai.Modeling.Tokenization;

/// <summary>Who speaks a turn of a dialogue.</summary>
public enum Speaker { Human, Assistant }

/// <summary>One turn of a dialogue.</summary>
public sealed record Turn(Speaker Speaker, string Text);

/// <summary>How a dialogue is written as text for a language model.</summary>
public interface IDialogueFormat
{
    /// <summary>The whole dialogue as text (for training on complete dialogues).</summary>
    string Render(IReadOnlyList<Turn> turns);

    /// <summary>The dialogue followed by the cue for the assistant's next turn: a generation prompt.</summary>
    string RenderPrompt(IReadOnlyList<Turn> turns);

    /// <summary>Strings at which a sampled assistant turn ends (the start of the next human turn).</summary>
    IReadOnlyList<string> StopStrings { get; }
}

/// <summary>
/// The paper's dialogue format: turns written as "\n\nHuman: ..." and "\n\nAssistant: ...", a prompt
/// ending in "\n\nAssistant:" so the model continues as the assistant.
/// </summary>
public sealed class HumanAssistantFormat : IDialogueFormat
{
    public static readonly HumanAssistantFormat Instance = new();

    public const string HumanMarker = "\n\nHuman:";
    public const string AssistantMarker = "\n\nAssistant:";

    public IReadOnlyList<string> StopStrings { get; } = [HumanMarker];

    public string Render(IReadOnlyList<Turn> turns)
    {
        var sb = new StringBuilder();
        foreach (var turn in turns)
            sb.Append(turn.Speaker == Speaker.Human ? HumanMarker : AssistantMarker).Append(' ').Append(turn.Text.Trim());
        return sb.ToString();
    }

    public string RenderPrompt(IReadOnlyList<Turn> turns)
    {
        if (turns.Count == 0 || turns[^1].Speaker != Speaker.Human)
            throw new ArgumentException("A generation prompt must end with a human turn.", nameof(turns));
        return Render(turns) + AssistantMarker;
    }
}
