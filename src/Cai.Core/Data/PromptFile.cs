using System.Text;
using System.Text.Json;
using Cai.Core.Dialogues;

namespace Cai.Core.Data;

/// <summary>
/// One prompt of a stage's input (a red-team or helpfulness prompt). <paramref name="Prompt"/> ends with a human
/// turn. <paramref name="Kind"/> is a free label such as "harmful" or "helpful", or null.
/// </summary>
public sealed record PromptRecord(string Id, Dialogue Prompt, string? Kind);

/// <summary>
/// Reads and writes prompt files: JSON Lines (optionally .gz), one <c>{"id", "prompt", "kind"}</c> object a line.
/// "prompt" is either a plain human message or a conversation in the "\n\nHuman: ...\n\nAssistant: ..." format
/// ending with a human turn. Ids must be unique (they key idempotent writes downstream). Other fields are ignored.
/// </summary>
public static class PromptFile
{
    /// <summary>Reads every prompt of a file.</summary>
    /// <exception cref="DataFormatException">A line is malformed or an id repeats.</exception>
    public static IReadOnlyList<PromptRecord> Load(string path, CancellationToken cancellationToken = default) =>
        [.. Read(path, cancellationToken)];

    /// <summary>Streams the prompts of a file, validating each line as it is read.</summary>
    public static IEnumerable<PromptRecord> Read(string path, CancellationToken cancellationToken = default)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (row, line) in JsonLines.Read(path, cancellationToken))
        {
            var id = JsonLines.RequiredString(row, "id", path, line);
            if (!seen.Add(id))
            {
                throw new DataFormatException(path, line, "id", $"repeats '{id}'");
            }

            var text = JsonLines.RequiredString(row, "prompt", path, line);
            var kind = JsonLines.OptionalString(row, "kind", path, line);
            yield return new PromptRecord(id, ParsePrompt(text, path, line), string.IsNullOrWhiteSpace(kind) ? null : kind);
        }
    }

    /// <summary>Writes prompts as JSON Lines; a one-turn prompt is written as its plain text.</summary>
    public static void Write(string path, IEnumerable<PromptRecord> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
        foreach (var p in prompts)
        {
            var text = p.Prompt.Count == 1 && p.Prompt.EndsWithHuman ? p.Prompt.Turns[0].Text : p.Prompt.Render();
            writer.Write(JsonSerializer.Serialize(new Dictionary<string, string?> { ["id"] = p.Id, ["prompt"] = text, ["kind"] = p.Kind }));
            writer.Write('\n');
        }
    }

    private static Dialogue ParsePrompt(string text, string path, int line)
    {
        // Plain text that happens to start with a marker is still a conversation; anything else is one human turn.
        if (!Dialogue.TryParse(text, out var dialogue))
        {
            return Dialogue.FromHuman(text);
        }

        return dialogue!.EndsWithHuman
            ? dialogue
            : throw new DataFormatException(path, line, "prompt", "is a conversation that does not end with a human turn");
    }
}
