using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cai.Training.Ppo;

/// <summary>
/// Appends each iteration's <see cref="PpoStepStats"/> as one JSON line (snake_case fields) to a
/// file, flushed per line so a crashed run keeps its curve. Appending lets a resumed run extend
/// the same log; iterations after its checkpoint are run and logged again, so a reader keeps the
/// last record of each iteration.
/// </summary>
public sealed class PpoJsonlLog : IProgress<PpoStepStats>, IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly StreamWriter _writer;

    public PpoJsonlLog(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
        FilePath = path;
    }

    /// <summary>The log file.</summary>
    public string FilePath { get; }

    public void Report(PpoStepStats value) => _writer.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>Reads a log back (e.g. to plot reward and KL per iteration).</summary>
    public static IReadOnlyList<PpoStepStats> Read(string path)
    {
        var result = new List<PpoStepStats>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                result.Add(JsonSerializer.Deserialize<PpoStepStats>(text, Json) ?? throw new InvalidDataException($"{path}:{line}: empty record."));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{line}: not a PPO stats record: {e.Message}", e);
            }
        }
        return result;
    }

    public void Dispose() => _writer.Dispose();
}
