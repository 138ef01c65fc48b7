using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Cai.Core.Data;

// Reads JSON Lines files, plain or gzip-compressed (by the .gz extension), one object per non-blank line.
internal static class JsonLines
{
    public static IEnumerable<(JsonElement Row, int Line)> Read(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!System.IO.File.Exists(path))
        {
            throw new FileNotFoundException($"data file not found: {path}", path);
        }

        using var file = System.IO.File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionMode.Decompress)
            : file;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonElement row;
            try
            {
                using var doc = JsonDocument.Parse(line);
                row = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, lineNumber, "(json)", $"is not valid JSON: {e.Message}", e);
            }

            if (row.ValueKind != JsonValueKind.Object)
            {
                throw new DataFormatException(path, lineNumber, "(json)", "must be a JSON object");
            }

            yield return (row, lineNumber);
        }
    }

    public static string? OptionalString(JsonElement row, string field, string path, int line) =>
        !row.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw new DataFormatException(path, line, field, "must be a string");

    public static string RequiredString(JsonElement row, string field, string path, int line) =>
        OptionalString(row, field, path, line) is { } s && !string.IsNullOrWhiteSpace(s)
            ? s
            : throw new DataFormatException(path, line, field, "is missing or empty");
}
