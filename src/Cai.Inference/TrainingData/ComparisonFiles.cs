using System.Text.Json;
using Cai.Core.Data;
using Cai.Inference;
using Cai.Training.PreferenceModel;

namespace Cai.Inference.TrainingData;

/// <summary>
/// The preference model's training files, told apart by their first row:
/// <list type="bullet">
/// <item>AI harmlessness comparisons, the labeling worker's <see cref="ComparisonItem"/> as JSON Lines:
/// <c>{"prompt", "responses": [a, b], "probabilities": [pa, pb]}</c>; the soft label is p(a is better).</item>
/// <item>helpfulness comparisons in hh-rlhf's format <c>{"chosen", "rejected"}</c> (full dialogues; label 1 for
/// chosen), optionally .gz; rows that are not well formed (<see cref="HhRlhfComparison.IsWellFormed"/>) are left out.</item>
/// </list>
/// </summary>
public static class ComparisonFiles
{
    /// <summary>Harmlessness and helpfulness comparisons of the files; errors name <c>data_files[i]</c>, the file and line.</summary>
    public static (List<PreferenceComparison> Harmlessness, List<PreferenceComparison> Helpfulness) Load(
        IReadOnlyList<string> paths, Func<string, string> resolve, CancellationToken cancellationToken)
    {
        var harmless = new List<PreferenceComparison>();
        var helpful = new List<PreferenceComparison>();
        for (int f = 0; f < paths.Count; f++)
        {
            string field = $"data_files[{f}]";
            if (string.IsNullOrWhiteSpace(paths[f])) throw new ArgumentException("must not be empty", field);
            string path = resolve(paths[f]);
            if (!File.Exists(path)) throw new FileNotFoundException($"{field}: data file not found: {path}", path);
            try
            {
                if (IsHhRlhf(path))
                    helpful.AddRange(HhRlhfFile.Read(path, cancellationToken).Where(c => c.IsWellFormed).Select(c => PreferenceComparison.FromHhRlhf(c, "helpfulness")));
                else
                    harmless.AddRange(ReadAiComparisons(path, field, cancellationToken));
            }
            catch (DataFormatException ex)
            {
                throw new ArgumentException(ex.Message, field, ex);
            }
        }
        return (harmless, helpful);
    }

    /// <summary>True when the first non-blank line of the file has a "chosen" field (hh-rlhf's format).</summary>
    public static bool IsHhRlhf(string path)
    {
        using var stream = File.OpenRead(path);
        using Stream text = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new System.IO.Compression.GZipStream(stream, System.IO.Compression.CompressionMode.Decompress) : stream;
        using var reader = new StreamReader(text);
        while (reader.ReadLine() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chosen", out _);
            }
            catch (JsonException)
            {
                return false; // the real reader reports the line
            }
        }
        return false;
    }

    private static IEnumerable<PreferenceComparison> ReadAiComparisons(string path, string field, CancellationToken cancellationToken)
    {
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            cancellationToken.ThrowIfCancellationRequested();
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            ComparisonItem? item;
            try
            {
                item = JsonSerializer.Deserialize<ComparisonItem>(text, JsonSerializerOptions.Web);
            }
            catch (JsonException ex)
            {
                throw new ArgumentException($"{path}:{line}: not a comparison record: {ex.Message}", field, ex);
            }
            string where = $"{path}:{line}";
            if (item is null) throw new ArgumentException($"{where}: the row is null", field);
            if (item.Responses is not { Count: 2 }) throw new ArgumentException($"{where}: 'responses' must hold exactly two responses", field);
            if (item.Probabilities is not { Count: 2 } || !(item.Probabilities[0] >= 0 && item.Probabilities[0] <= 1))
                throw new ArgumentException($"{where}: 'probabilities' must hold two probabilities, the first in [0, 1]", field);
            var prompt = StageStreams.ParsePrompt(item.Prompt, $"{field} ({where}: prompt)");
            yield return new PreferenceComparison(prompt, item.Responses[0], item.Responses[1], item.Probabilities[0], "harmlessness");
        }
    }
}
