using System.Text;

namespace Cai.Core.Dialogues;

/// <summary>Who speaks a turn in the paper's two-party conversation format.</summary>
public enum Role
{
    /// <summary>The human (red-teamer or user); rendered as "Human:".</summary>
    Human,

    /// <summary>The AI assistant; rendered as "Assistant:".</summary>
    Assistant,
}

/// <summary>One utterance of a <see cref="Dialogue"/>. The text carries no role marker and no surrounding whitespace.</summary>
public sealed record Turn(Role Role, string Text);

/// <summary>
/// A conversation in the paper's "\n\nHuman: ...\n\nAssistant: ..." format: the unit every CAI stage reads and
/// writes (red-team prompts, responses, critique/revision contexts, feedback questions).
/// A <em>prompt dialogue</em> ends with a human turn and is rendered with an open "\n\nAssistant:" for the model
/// to continue (<see cref="RenderPrompt"/>).
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(DialogueJsonConverter))]
public sealed class Dialogue : IEquatable<Dialogue>
{
    private readonly Turn[] turns;

    /// <summary>Creates a dialogue from its turns (texts are trimmed; an empty dialogue is allowed).</summary>
    public Dialogue(IEnumerable<Turn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        this.turns = turns.Select((t, i) => t is null || t.Text is null
            ? throw new ArgumentException($"turn {i} is null or has null text", nameof(turns))
            : t with { Text = t.Text.Trim() }).ToArray();
    }

    /// <summary>The turns in order.</summary>
    public IReadOnlyList<Turn> Turns => turns;

    /// <summary>The number of turns.</summary>
    public int Count => turns.Length;

    /// <summary>The last turn, or null for an empty dialogue.</summary>
    public Turn? LastTurn => turns.Length == 0 ? null : turns[^1];

    /// <summary>True when the last turn is the human's: the dialogue is a prompt waiting for an assistant answer.</summary>
    public bool EndsWithHuman => LastTurn?.Role == Role.Human;

    /// <summary>The text of the first human turn (hh-rlhf style red-team prompts open with it), or null if none.</summary>
    public string? FirstHumanTurn => turns.FirstOrDefault(t => t.Role == Role.Human)?.Text;

    /// <summary>A one-turn prompt dialogue.</summary>
    public static Dialogue FromHuman(string text) => new([new Turn(Role.Human, text)]);

    /// <summary>A new dialogue with a human turn appended.</summary>
    public Dialogue WithHuman(string text) => new(turns.Append(new Turn(Role.Human, text)));

    /// <summary>A new dialogue with an assistant turn appended (e.g. a prompt plus its response).</summary>
    public Dialogue WithAssistant(string text) => new(turns.Append(new Turn(Role.Assistant, text)));

    /// <summary>
    /// The prompt part of a dialogue: everything before the last assistant turn (which is the response).
    /// Throws if the dialogue does not end with an assistant turn.
    /// </summary>
    public (Dialogue Prompt, string Response) SplitLastResponse()
    {
        if (LastTurn?.Role != Role.Assistant)
        {
            throw new InvalidOperationException("the dialogue does not end with an assistant turn");
        }

        return (new Dialogue(turns[..^1]), turns[^1].Text);
    }

    /// <summary>Renders every turn as "\n\nHuman: text" / "\n\nAssistant: text".</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        foreach (var turn in turns)
        {
            sb.Append(DialogueFormat.TurnSeparator).Append(DialogueFormat.Marker(turn.Role));
            if (turn.Text.Length > 0)
            {
                sb.Append(' ').Append(turn.Text);
            }
        }

        return sb.ToString();
    }

    /// <summary>Renders a prompt dialogue followed by the open "\n\nAssistant:" the model continues.</summary>
    /// <exception cref="InvalidOperationException">The dialogue does not end with a human turn.</exception>
    public string RenderPrompt()
    {
        if (!EndsWithHuman)
        {
            throw new InvalidOperationException("a prompt dialogue must end with a human turn");
        }

        return Render() + DialogueFormat.TurnSeparator + DialogueFormat.AssistantMarker;
    }

    /// <summary>
    /// Parses text in the "\n\nHuman: ...\n\nAssistant: ..." format. A marker counts at the start of the text
    /// (after optional whitespace) or after a blank line ("\n\n"), so "Human:" inside a sentence is left alone.
    /// A trailing empty "Assistant:" (the open prompt form) is dropped.
    /// </summary>
    /// <exception cref="FormatException">No marker found, or non-blank text precedes the first marker.</exception>
    public static Dialogue Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParseCore(text, out var dialogue, out var error) ? dialogue! : throw new FormatException(error);
    }

    /// <summary>
    /// Parses a dialogue whose last turn is the assistant response to be scored. Unlike <see cref="TryParse"/>, a
    /// trailing empty "Assistant:" is kept as an empty response (a model may well answer nothing). False when the
    /// text does not parse or does not end with an assistant turn.
    /// </summary>
    public static bool TryParseResponse(string? text, out Dialogue? dialogue)
    {
        if (!TryParseCore(text ?? string.Empty, out dialogue, out _)) return false;
        if (dialogue!.EndsWithHuman && text!.TrimEnd().EndsWith(DialogueFormat.TurnSeparator + DialogueFormat.AssistantMarker, StringComparison.Ordinal))
            dialogue = dialogue.WithAssistant(string.Empty);
        return dialogue.LastTurn?.Role == Role.Assistant;
    }

    /// <summary>Like <see cref="Parse"/> but returns false instead of throwing.</summary>
    public static bool TryParse(string? text, out Dialogue? dialogue) =>
        TryParseCore(text ?? string.Empty, out dialogue, out _);

    private static bool TryParseCore(string text, out Dialogue? dialogue, out string? error)
    {
        dialogue = null;
        var markers = FindMarkers(text);
        if (markers.Count == 0)
        {
            error = "no 'Human:' or 'Assistant:' marker found";
            return false;
        }

        if (!string.IsNullOrWhiteSpace(text[..markers[0].Start]))
        {
            error = "text precedes the first 'Human:' or 'Assistant:' marker";
            return false;
        }

        var result = new List<Turn>(markers.Count);
        for (int i = 0; i < markers.Count; i++)
        {
            var (start, role) = markers[i];
            int bodyStart = start + DialogueFormat.Marker(role).Length;
            int bodyEnd = i + 1 < markers.Count ? markers[i + 1].Start : text.Length;
            result.Add(new Turn(role, text[bodyStart..bodyEnd].Trim()));
        }

        if (result[^1] is { Role: Role.Assistant, Text.Length: 0 })
        {
            result.RemoveAt(result.Count - 1);
        }

        dialogue = new Dialogue(result);
        error = null;
        return true;
    }

    private static List<(int Start, Role Role)> FindMarkers(string text)
    {
        var found = new List<(int, Role)>();
        int first = 0;
        while (first < text.Length && char.IsWhiteSpace(text[first]))
        {
            first++;
        }

        TryAddAt(first);
        for (int i = text.IndexOf(DialogueFormat.TurnSeparator, StringComparison.Ordinal);
             i >= 0;
             i = text.IndexOf(DialogueFormat.TurnSeparator, i + 1, StringComparison.Ordinal))
        {
            int at = i + DialogueFormat.TurnSeparator.Length;
            if (at != first)
            {
                TryAddAt(at);
            }
        }

        return found;

        void TryAddAt(int at)
        {
            if (string.CompareOrdinal(text, at, DialogueFormat.HumanMarker, 0, DialogueFormat.HumanMarker.Length) == 0)
            {
                found.Add((at, Role.Human));
            }
            else if (string.CompareOrdinal(text, at, DialogueFormat.AssistantMarker, 0, DialogueFormat.AssistantMarker.Length) == 0)
            {
                found.Add((at, Role.Assistant));
            }
        }
    }

    /// <inheritdoc />
    public bool Equals(Dialogue? other) => other is not null && turns.SequenceEqual(other.turns);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Dialogue);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var turn in turns)
        {
            hash.Add(turn);
        }

        return hash.ToHashCode();
    }

    /// <summary>The rendered text (see <see cref="Render"/>).</summary>
    public override string ToString() => Render();
}
