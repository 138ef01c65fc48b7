using System.Text.Json;
using Cai.Core.Dialogues;

namespace Cai.Core.Data;

/// <summary>
/// A held-out evaluation question in the paper's HHH format <c>{"prompt", "corrects", "incorrects"}</c>: a
/// conversation and answers known to be better or worse. A preference model is right on a pair when it scores the
/// correct answer above the incorrect one.
/// </summary>
/// <param name="Id">The row's "id" if present, otherwise its 0-based position in the file.</param>
/// <param name="Prompt">The conversation, ending with a human turn.</param>
/// <param name="Corrects">Better answers (at least one).</param>
/// <param name="Incorrects">Worse answers (at least one).</param>
public sealed record ChoiceQuestion(string Id, Dialogue Prompt, IReadOnlyList<string> Corrects, IReadOnlyList<string> Incorrects)
{
    /// <summary>Every (correct, incorrect) pair of the question.</summary>
    public IEnumerable<(string Correct, string Incorrect)> Pairs() =>
        Corrects.SelectMany(c => Incorrects.Select(i => (c, i)));
}

/// <summary>Reads choice questions from a JSON list or a JSON Lines file (optionally .gz).</summary>
public static class ChoiceQuestionFile
{
    /// <summary>Reads every question; a file starting with '[' is a JSON list, otherwise JSON Lines.</summary>
    /// <exception cref="DataFormatException">A row is malformed (the message names the line or list index and the field).</exception>
    public static IReadOnlyList<ChoiceQuestion> Load(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) && File.Exists(path)
            && File.ReadAllText(path).TrimStart().StartsWith('['))
        {
            using var doc = ParseList(path);
            return [.. doc.RootElement.EnumerateArray().Select((row, i) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                return Parse(row, i, path, line: i + 1);
            })];
        }

        int index = 0;
        return [.. JsonLines.Read(path, cancellationToken).Select(r => Parse(r.Row, index++, path, r.Line))];
    }

    private static JsonDocument ParseList(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, (int)(e.LineNumber ?? 0) + 1, "(json)", $"is not valid JSON: {e.Message}", e);
        }
    }

    // For a JSON list, "line" is the 1-based position of the entry in the list.
    private static ChoiceQuestion Parse(JsonElement row, int index, string path, int line)
    {
        if (row.ValueKind != JsonValueKind.Object)
        {
            throw new DataFormatException(path, line, "(json)", "must be a JSON object");
        }

        var id = JsonLines.OptionalString(row, "id", path, line) ?? index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var text = JsonLines.RequiredString(row, "prompt", path, line);
        if (!Dialogue.TryParse(text, out var prompt))
        {
            prompt = Dialogue.FromHuman(text);
        }

        if (!prompt!.EndsWithHuman)
        {
            throw new DataFormatException(path, line, "prompt", "must end with a human turn");
        }

        return new ChoiceQuestion(id, prompt, Answers(row, "corrects", path, line), Answers(row, "incorrects", path, line));
    }

    private static List<string> Answers(JsonElement row, string field, string path, int line)
    {
        if (!row.TryGetProperty(field, out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
        {
            throw new DataFormatException(path, line, field, "must be a non-empty list of strings");
        }

        return [.. list.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String
            ? a.GetString()!.Trim()
            : throw new DataFormatException(path, line, field, "must hold only strings"))];
    }
}
