using System.Text.Json;
using System.Text.Json.Nodes;
using Cai.Core.Configuration;
using Cai.Inference;
using Cai.Pipeline;
using Cai.Training.Ppo;

namespace Cai.Reporting;

/// <summary>
/// Whatever a run folder holds so far, read leniently: an artifact that is missing is null, one that does not parse
/// is null with its error in <see cref="Problems"/>, so a report of a half-finished run still gets written.
/// </summary>
public sealed class RunData
{
    private RunData(string directory) => Directory = directory;

    /// <summary>The run folder (full path).</summary>
    public string Directory { get; }

    /// <summary>The run id: from state.json, else provenance.json, else the folder name.</summary>
    public string RunId => State?.RunId ?? Provenance?.RunId ?? Path.GetFileName(Directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));

    /// <summary>state.json.</summary>
    public RunState? State { get; private set; }

    /// <summary>config.json as written (any naming), or null.</summary>
    public JsonObject? Config { get; private set; }

    /// <summary>provenance.json.</summary>
    public RunProvenance? Provenance { get; private set; }

    /// <summary>The evaluated policies present, in pipeline order (<see cref="RunLayout.Policies"/>), by policy name.</summary>
    public IReadOnlyList<PolicyEvaluationFile> Policies { get; private set; } = [];

    /// <summary>evaluation/labels.json.</summary>
    public FeedbackEvaluationFile? Feedback { get; private set; }

    /// <summary>preference-model/evaluation.json.</summary>
    public PmEvaluationFile? PreferenceModel { get; private set; }

    /// <summary>ppo/log.jsonl: the last record of each iteration (a resumed run logs some twice), by iteration.</summary>
    public IReadOnlyList<PpoStepStats>? Ppo { get; private set; }

    /// <summary>sl-cai/revisions.jsonl (the last record of each prompt id, in file order).</summary>
    public IReadOnlyList<RevisionItem>? Revisions { get; private set; }

    /// <summary>Artifacts that exist but could not be read, each "path: error".</summary>
    public IReadOnlyList<string> Problems => _problems;

    private readonly List<string> _problems = [];

    /// <summary>The evaluation of <paramref name="policy"/>, or null.</summary>
    public PolicyEvaluationFile? Policy(string policy) => Policies.FirstOrDefault(p => p.Policy == policy);

    /// <summary>Reads what <paramref name="runDirectory"/> holds.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static RunData Load(string runDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runDirectory);
        string full = Path.GetFullPath(runDirectory);
        if (!System.IO.Directory.Exists(full)) throw new DirectoryNotFoundException($"run folder not found: {runDirectory}");
        var data = new RunData(full);
        data.State = data.Try(RunLayout.StateFile, RunLayout.ReadJson<RunState>);
        data.Config = data.Try(RunFolder.ConfigFile, path => JsonNode.Parse(File.ReadAllText(path)) as JsonObject
            ?? throw new InvalidDataException("the root is not a JSON object"));
        data.Provenance = data.Try(RunFolder.ProvenanceFile, path => JsonSerializer.Deserialize<RunProvenance>(File.ReadAllText(path), SnakeCase)
            ?? throw new InvalidDataException("the file holds null"));
        var policies = new List<PolicyEvaluationFile>();
        foreach (var policy in RunLayout.Policies)
        {
            if (data.Try(RunLayout.PolicyEvaluation(policy), RunLayout.ReadJson<PolicyEvaluationFile>) is { } file)
                policies.Add(file with { Policy = policy, Rates = file.Rates ?? [], Answers = file.Answers ?? [] });
        }

        data.Policies = policies;
        data.Feedback = data.Try(RunLayout.FeedbackEvaluation, RunLayout.ReadJson<FeedbackEvaluationFile>);
        data.PreferenceModel = data.Try(RunLayout.PmEvaluation, RunLayout.ReadJson<PmEvaluationFile>);
        data.Ppo = data.Try(RunLayout.PpoLog, path => PpoJsonlLog.Read(path)
            .GroupBy(s => s.Iteration).Select(g => g.Last()).OrderBy(s => s.Iteration).ToList());
        data.Revisions = data.Try(RunLayout.Revisions, ReadRevisions);
        return data;
    }

    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly JsonSerializerOptions AnyCase = new() { PropertyNameCaseInsensitive = true };

    /// <summary>
    /// Reads revision records whatever the writer's naming (camelCase as the Redis streams write items, or
    /// snake_case as the run's JSON artifacts): property names are compared without underscores or case.
    /// </summary>
    private static IReadOnlyList<RevisionItem> ReadRevisions(string path)
    {
        var byId = new Dictionary<string, RevisionItem>(StringComparer.Ordinal);
        var order = new List<string>();
        string all = File.ReadAllText(path);
        var lines = all.Split('\n');
        for (int line = 1; line <= lines.Length; line++)
        {
            string text = lines[line - 1];
            if (string.IsNullOrWhiteSpace(text)) continue;
            RevisionItem item;
            try
            {
                var node = JsonNode.Parse(text) ?? throw new InvalidDataException("null record");
                item = Normalise(node).Deserialize<RevisionItem>(AnyCase) ?? throw new InvalidDataException("null record");
            }
            catch (JsonException e)
            {
                // The stage may be appending right now: a last line without its newline is not finished yet.
                if (line == lines.Length) break;
                throw new InvalidDataException($"line {line}: {e.Message}", e);
            }

            if (string.IsNullOrWhiteSpace(item.PromptId)) throw new InvalidDataException($"line {line}: no prompt id");
            if (!byId.ContainsKey(item.PromptId)) order.Add(item.PromptId);
            byId[item.PromptId] = item with { Rounds = item.Rounds ?? [] };
        }

        return [.. order.Select(id => byId[id])];
    }

    private static JsonNode? Normalise(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key.Replace("_", "", StringComparison.Ordinal), Normalise(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Normalise)]),
        null => null,
        _ => node.DeepClone(),
    };

    private T? Try<T>(string relative, Func<string, T> read) where T : class
    {
        string path = Path.Combine(Directory, relative);
        if (!File.Exists(path)) return null;
        try
        {
            return read(path);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or FormatException or NotSupportedException or InvalidOperationException)
        {
            _problems.Add($"{relative}: {e.Message}");
            return null;
        }
    }
}
