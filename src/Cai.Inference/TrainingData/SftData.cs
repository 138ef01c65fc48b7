using System.Text.Json;
using Cai.Core.Dialogues;
using Cai.Inference;
using Cai.Training.Sft;

namespace Cai.Inference.TrainingData;

/// <summary>
/// SL-CAI's fine-tuning data as the sft service reads it: revision records (the critique worker's
/// <see cref="RevisionItem"/>: SFT learns the final revision) and plain SFT examples, each split into the revision
/// set and the helpful set by <c>kind</c> ("helpful" goes to the helpful mix).
/// <para>
/// File format: JSON Lines, one object a line, either <c>{"prompt", "finalResponse", "kind"?}</c> (a revision
/// record; other fields ignored) or <c>{"prompt", "response", "kind"?}</c>. "prompt" is a plain human message or a
/// "\n\nHuman: ...\n\nAssistant:" conversation ending with a human turn.
/// </para>
/// </summary>
public static class SftData
{
    /// <summary>The kind that marks an ordinary helpful sample.</summary>
    public const string HelpfulKind = "helpful";

    /// <summary>Revision and helpful examples of the files; errors name <c>data_files[i]</c>, the file and line.</summary>
    public static (List<SftExample> Revisions, List<SftExample> Helpful) LoadFiles(
        IReadOnlyList<string> paths, Func<string, string> resolve, CancellationToken cancellationToken)
    {
        var revisions = new List<SftExample>();
        var helpful = new List<SftExample>();
        for (int f = 0; f < paths.Count; f++)
        {
            string field = $"data_files[{f}]";
            if (string.IsNullOrWhiteSpace(paths[f])) throw new ArgumentException("must not be empty", field);
            string path = resolve(paths[f]);
            if (!File.Exists(path)) throw new FileNotFoundException($"{field}: data file not found: {path}", path);
            int line = 0;
            foreach (var text in File.ReadLines(path))
            {
                cancellationToken.ThrowIfCancellationRequested();
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                var (example, kind) = Parse(text, $"{path}:{line}", field);
                (kind == HelpfulKind ? helpful : revisions).Add(example);
            }
        }
        return (revisions, helpful);
    }

    /// <summary>Revision records of a run's stream, split by kind.</summary>
    public static (List<SftExample> Revisions, List<SftExample> Helpful) FromRecords(IEnumerable<RevisionItem> records)
    {
        var revisions = new List<SftExample>();
        var helpful = new List<SftExample>();
        foreach (var r in records)
        {
            var example = new SftExample(StageStreams.ParsePrompt(r.Prompt, $"revisions[{r.PromptId}].prompt"), r.FinalResponse ?? "");
            (r.Kind == HelpfulKind ? helpful : revisions).Add(example);
        }
        return (revisions, helpful);
    }

    private static (SftExample Example, string? Kind) Parse(string text, string where, string field)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var row = doc.RootElement;
            if (row.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{where}: must be a JSON object", field);
            Dialogue prompt = StageStreams.ParsePrompt(String(row, "prompt", where, field, required: true), field);
            string response = String(row, "finalResponse", where, field, required: false)
                ?? String(row, "response", where, field, required: false)
                ?? throw new ArgumentException($"{where}: needs 'finalResponse' (a revision record) or 'response'", field);
            return (new SftExample(prompt, response), String(row, "kind", where, field, required: false));
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{where}: not valid JSON: {ex.Message}", field, ex);
        }
    }

    private static string? String(JsonElement row, string name, string where, string field, bool required)
    {
        if (!row.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return required ? throw new ArgumentException($"{where}: field '{name}' is missing", field) : null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw new ArgumentException($"{where}: field '{name}' must be a string", field);
    }
}
