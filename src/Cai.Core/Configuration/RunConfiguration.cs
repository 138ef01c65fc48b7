using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Cai.Core.Generation;

namespace Cai.Core.Configuration;

/// <summary>
/// Everything that defines one CAI run: the constitution, the models, the size of every stage, the seed and the
/// replicas of each service. Named profiles give the defaults (<see cref="Default"/>: the ~25-minute CPU run;
/// <see cref="Smoke"/>: every stage on a tiny scale for CI). Keys use the .NET configuration spelling
/// ("Ppo:Iterations"), so a section of appsettings.json binds to it too.
/// </summary>
public sealed record RunConfiguration
{
    /// <summary>The service names that may have replicas (Aspire resource names).</summary>
    public static readonly IReadOnlyList<string> Services =
        ["generation", "critique", "sft", "labeling", "preference-model", "ppo", "orchestrator"];

    /// <summary>The profile these values started from ("default" or "smoke").</summary>
    public string Profile { get; init; } = "default";

    /// <summary>Path of the constitution file (YAML or JSON).</summary>
    public string ConstitutionPath { get; init; } = "constitutions/default.yaml";

    /// <summary>Folder under which each run writes its checkpoints and reports, one subfolder per run id.</summary>
    public string ArtifactsRoot { get; init; } = "runs";

    /// <summary>The run seed; each stage derives its own with <see cref="DeriveSeed"/>.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Model checkpoints (Hugging Face layout folders).</summary>
    public ModelPaths Models { get; init; } = new();

    /// <summary>SL-CAI: critique/revision data and supervised fine-tuning.</summary>
    public SlCaiStage SlCai { get; init; } = new();

    /// <summary>RL-CAI AI feedback labels.</summary>
    public LabelStage Labels { get; init; } = new();

    /// <summary>Preference model training.</summary>
    public PreferenceModelStage PreferenceModel { get; init; } = new();

    /// <summary>PPO against the preference model.</summary>
    public PpoStage Ppo { get; init; } = new();

    /// <summary>Evaluation of every stage's policy.</summary>
    public EvaluationStage Evaluation { get; init; } = new();

    /// <summary>Replicas per service (keys from <see cref="Services"/>); a missing service runs one replica.</summary>
    public Dictionary<string, int> Replicas { get; init; } = [];

    /// <summary>The default run (DESIGN.md sizes, about 25 minutes on a 2-core CPU).</summary>
    public static RunConfiguration Default { get; } = new();

    /// <summary>Every stage at a tiny scale (32 prompts, the committed default model): CI and resume tests, about a minute in-process.</summary>
    public static RunConfiguration Smoke { get; } = new()
    {
        Profile = "smoke",
        Models = new() { Policy = "models/default" },
        SlCai = new() { RedTeamPrompts = 32, HelpfulPrompts = 32, Rounds = 1, MaxNewTokens = 24 },
        Labels = new() { Pairs = 32, PrinciplesPerComparison = 1, MaxNewTokens = 24 },
        PreferenceModel = new() { HelpfulComparisons = 32, EvaluationLimit = 32 },
        Ppo = new() { Iterations = 2, PromptsPerIteration = 16, MaxNewTokens = 16 },
        Evaluation = new() { HarmfulPrompts = 32, BenignPrompts = 32, MaxNewTokens = 24, LabelPairs = 16, EnsemblePrinciples = 2 },
    };

    /// <summary>The named profile.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static RunConfiguration ForProfile(string name) => name switch
    {
        "default" => Default,
        "smoke" => Smoke,
        _ => throw new ArgumentException($"unknown profile '{name}': expected 'default' or 'smoke'", nameof(name)),
    };

    /// <summary>
    /// The configuration of a run: <paramref name="profileOrFile"/> is a profile name ("default", "smoke") or a JSON
    /// file (see <see cref="FromJson"/>), then each "Key:Sub=value" of <paramref name="overrides"/> replaces one value
    /// (the value is read as the type the key already has: number, true/false, string; a list is comma-separated).
    /// </summary>
    /// <exception cref="FormatException">An unknown key or a value of the wrong type (names the key).</exception>
    /// <exception cref="FileNotFoundException">A file that does not exist.</exception>
    public static RunConfiguration Create(string profileOrFile, IEnumerable<KeyValuePair<string, string>>? overrides = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(profileOrFile);
        RunConfiguration baseline = profileOrFile is "default" or "smoke"
            ? ForProfile(profileOrFile)
            : File.Exists(profileOrFile) ? Load(profileOrFile)
            : throw new FileNotFoundException($"profile: '{profileOrFile}' is neither a profile (default, smoke) nor a configuration file", profileOrFile);
        var list = overrides?.ToList() ?? [];
        if (list.Count == 0) return baseline;
        var root = JsonNode.Parse(baseline.ToJson())!.AsObject();
        foreach (var (key, value) in list)
        {
            var path = key.Split(':', StringSplitOptions.TrimEntries);
            JsonObject parent = root;
            for (int i = 0; i < path.Length - 1; i++)
            {
                parent = FindKey(parent, path[i]) is { } name && parent[name] is JsonObject child
                    ? child : throw new FormatException($"{key}: '{path[i]}' is not a section of the run configuration");
            }
            string last = path[^1];
            if (path[0].Equals(nameof(Replicas), StringComparison.OrdinalIgnoreCase) && path.Length == 2)
            {
                parent[last] = int.TryParse(value, out int n) ? n : throw new FormatException($"{key}: '{value}' is not a whole number");
                continue;
            }
            string field = FindKey(parent, last) ?? throw new FormatException($"{key}: unknown key (see RunConfiguration for the keys)");
            parent[field] = ParseLike(parent[field], value, key);
        }
        try
        {
            return root.Deserialize<RunConfiguration>(JsonOptions)!;
        }
        catch (JsonException e)
        {
            throw new FormatException($"overrides: {e.Message}", e);
        }
    }

    private static string? FindKey(JsonObject obj, string name) =>
        obj.Select(p => p.Key).FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));

    private static JsonNode? ParseLike(JsonNode? existing, string value, string key)
    {
        switch (existing?.GetValueKind())
        {
            case JsonValueKind.True or JsonValueKind.False:
                return bool.TryParse(value, out bool b) ? JsonValue.Create(b) : throw new FormatException($"{key}: '{value}' is not true or false");
            case JsonValueKind.Number:
                return double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d)
                    ? JsonNode.Parse(value.Trim()) is { } n && n.GetValueKind() == JsonValueKind.Number ? n : JsonValue.Create(d)
                    : throw new FormatException($"{key}: '{value}' is not a number");
            case JsonValueKind.Array:
                return new JsonArray([.. value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => (JsonNode?)JsonValue.Create(v))]);
            default:
                return value.Length == 0 ? null : JsonValue.Create(value);
        }
    }

    /// <summary>A stage's own seed, derived from the run seed and the stage name.</summary>
    public ulong DeriveSeed(string stage) => DeterministicRandom.ForItem(Seed, "run-configuration", stage).NextUInt64();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Writes the configuration as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>
    /// Reads a configuration: the JSON's "Profile" (default "default") gives the starting values and the JSON's
    /// other keys override them, so a file need only state what differs from its profile.
    /// </summary>
    /// <exception cref="FormatException">Malformed JSON, an unknown key or a wrongly typed value (the message names it).</exception>
    public static RunConfiguration FromJson(string json, string source = "<json>")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var overrides = JsonNode.Parse(json, documentOptions: new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                as JsonObject ?? throw new FormatException($"{source}: the root must be a JSON object");
            var profile = overrides["Profile"]?.GetValue<string>() ?? "default";
            var merged = JsonNode.Parse(ForProfile(profile).ToJson())!.AsObject();
            Merge(merged, overrides);
            return merged.Deserialize<RunConfiguration>(JsonOptions)!;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Reads a configuration file (see <see cref="FromJson"/>).</summary>
    public static RunConfiguration Load(string path) => FromJson(File.ReadAllText(path), path);

    /// <summary>Problems with the values, each naming its key (e.g. "Ppo:Iterations must be > 0"); empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Positive(string key, double value)
        {
            if (!(value > 0))
            {
                errors.Add($"{key} must be > 0");
            }
        }

        void NonNegative(string key, double value)
        {
            if (!(value >= 0))
            {
                errors.Add($"{key} must be >= 0");
            }
        }

        void Present(string key, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors.Add($"{key} must be set");
            }
        }

        Present(nameof(ConstitutionPath), ConstitutionPath);
        Present(nameof(ArtifactsRoot), ArtifactsRoot);
        Present("Models:Policy", Models?.Policy);
        if (Models is null || SlCai is null || Labels is null || PreferenceModel is null || Ppo is null || Evaluation is null || Replicas is null)
        {
            errors.Add("Models, SlCai, Labels, PreferenceModel, Ppo, Evaluation and Replicas must not be null");
            return errors;
        }

        NonNegative("SlCai:RedTeamPrompts", SlCai.RedTeamPrompts);
        NonNegative("SlCai:HelpfulPrompts", SlCai.HelpfulPrompts);
        Positive("SlCai:RedTeamPrompts + SlCai:HelpfulPrompts", SlCai.RedTeamPrompts + SlCai.HelpfulPrompts);
        NonNegative("SlCai:Rounds", SlCai.Rounds);
        NonNegative("SlCai:FewShotExamples", SlCai.FewShotExamples);
        Positive("SlCai:MaxNewTokens", SlCai.MaxNewTokens);
        Positive("SlCai:SftEpochs", SlCai.SftEpochs);
        Positive("SlCai:BatchSize", SlCai.BatchSize);

        Positive("Labels:Pairs", Labels.Pairs);
        Positive("Labels:PrinciplesPerComparison", Labels.PrinciplesPerComparison);
        NonNegative("Labels:FewShotExamples", Labels.FewShotExamples);
        Positive("Labels:MaxNewTokens", Labels.MaxNewTokens);
        Positive("Labels:BatchSize", Labels.BatchSize);
        if (!(Labels.ClampLow >= 0 && Labels.ClampLow <= Labels.ClampHigh && Labels.ClampHigh <= 1))
        {
            errors.Add("Labels:ClampLow and Labels:ClampHigh must satisfy 0 <= ClampLow <= ClampHigh <= 1");
        }

        NonNegative("PreferenceModel:HelpfulComparisons", PreferenceModel.HelpfulComparisons);
        Positive("PreferenceModel:Epochs", PreferenceModel.Epochs);
        if (!(PreferenceModel.HeldOutFraction >= 0 && PreferenceModel.HeldOutFraction < 1))
        {
            errors.Add("PreferenceModel:HeldOutFraction must be in [0, 1)");
        }

        Positive("Ppo:Iterations", Ppo.Iterations);
        Positive("Ppo:PromptsPerIteration", Ppo.PromptsPerIteration);
        Positive("Ppo:MaxNewTokens", Ppo.MaxNewTokens);
        Positive("Ppo:LearningRate", Ppo.LearningRate);
        NonNegative("Ppo:KlCoefficient", Ppo.KlCoefficient);
        NonNegative("Ppo:KlTarget", Ppo.KlTarget);
        Positive("Ppo:Epochs", Ppo.Epochs);
        Positive("SlCai:SftLearningRate", SlCai.SftLearningRate);
        Positive("SlCai:SftBatchSize", SlCai.SftBatchSize);
        NonNegative("SlCai:HelpfulRatio", SlCai.HelpfulRatio);
        Positive("PreferenceModel:LearningRate", PreferenceModel.LearningRate);
        Positive("PreferenceModel:BatchSize", PreferenceModel.BatchSize);
        NonNegative("PreferenceModel:EvaluationLimit", PreferenceModel.EvaluationLimit);
        NonNegative("Evaluation:LabelPairs", Evaluation.LabelPairs);
        Positive("Evaluation:EnsemblePrinciples", Evaluation.EnsemblePrinciples);

        NonNegative("Evaluation:HarmfulPrompts", Evaluation.HarmfulPrompts);
        NonNegative("Evaluation:BenignPrompts", Evaluation.BenignPrompts);
        Positive("Evaluation:MaxNewTokens", Evaluation.MaxNewTokens);

        foreach (var (service, count) in Replicas)
        {
            if (!Services.Contains(service))
            {
                errors.Add($"Replicas:{service} is not a service (expected one of {string.Join(", ", Services)})");
            }
            else if (count < 1)
            {
                errors.Add($"Replicas:{service} must be >= 1");
            }
        }

        return errors;
    }

    private static void Merge(JsonObject target, JsonObject overrides)
    {
        foreach (var (key, value) in overrides)
        {
            if (value is JsonObject child && target[key] is JsonObject existing && key != nameof(Replicas))
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }
}

/// <summary>Model checkpoints of a run.</summary>
public sealed record ModelPaths
{
    /// <summary>The helpful-only base policy that SL-CAI starts from.</summary>
    public string Policy { get; init; } = "models/default";

    /// <summary>The feedback model that labels comparisons; null means the policy checkpoint.</summary>
    public string? Feedback { get; init; }
}

/// <summary>SL-CAI sizes: prompts, critique/revision rounds, fine-tuning.</summary>
public sealed record SlCaiStage
{
    /// <summary>Red-team prompts that go through critique and revision.</summary>
    public int RedTeamPrompts { get; init; } = 1000;

    /// <summary>Helpfulness prompts whose plain answers are mixed into fine-tuning.</summary>
    public int HelpfulPrompts { get; init; } = 1000;

    /// <summary>Critique/revision rounds per red-team prompt.</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Few-shot demonstrations per critique/revision prompt.</summary>
    public int FewShotExamples { get; init; } = 1;

    /// <summary>Ablation: revise without critiques.</summary>
    public bool DirectRevision { get; init; }

    /// <summary>Most tokens per response, critique or revision.</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Fine-tuning epochs over the revisions (and helpful mix).</summary>
    public int SftEpochs { get; init; } = 1;

    /// <summary>Sequences per generation call (keep >= 32).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Helpful samples per revision in the fine-tuning mix.</summary>
    public double HelpfulRatio { get; init; } = 1.0;

    /// <summary>Peak learning rate of fine-tuning.</summary>
    public double SftLearningRate { get; init; } = 1e-4;

    /// <summary>Sequences per fine-tuning step.</summary>
    public int SftBatchSize { get; init; } = 16;

    /// <summary>Fine-tune with bfloat16 compute (float32 master weights). On the 2-core dev CPU (bf16 units) the
    /// default run's SFT stage took 72-77 s against 86-91 s in float32; turn it off where bf16 is emulated.</summary>
    public bool SftBf16 { get; init; } = true;
}

/// <summary>RL-CAI AI-feedback labelling sizes.</summary>
public sealed record LabelStage
{
    /// <summary>Response pairs sampled from the SL-CAI policy and labelled.</summary>
    public int Pairs { get; init; } = 1000;

    /// <summary>Principles per comparison (ensemble).</summary>
    public int PrinciplesPerComparison { get; init; } = 2;

    /// <summary>Ask both option orders and average.</summary>
    public bool AverageOverOrders { get; init; } = true;

    /// <summary>Chain-of-thought labelling (reason first, then clamp).</summary>
    public bool ChainOfThought { get; init; }

    /// <summary>Lower clamp bound for chain-of-thought probabilities.</summary>
    public double ClampLow { get; init; } = 0.4;

    /// <summary>Upper clamp bound for chain-of-thought probabilities.</summary>
    public double ClampHigh { get; init; } = 0.6;

    /// <summary>Few-shot demonstrations per feedback question.</summary>
    public int FewShotExamples { get; init; }

    /// <summary>Most tokens per sampled response (and per chain of thought).</summary>
    public int MaxNewTokens { get; init; } = 48;

    /// <summary>Comparisons per labelling batch.</summary>
    public int BatchSize { get; init; } = 32;
}

/// <summary>Preference-model training sizes.</summary>
public sealed record PreferenceModelStage
{
    /// <summary>Helpfulness comparisons mixed with the AI harmlessness labels.</summary>
    public int HelpfulComparisons { get; init; } = 1000;

    /// <summary>Training epochs.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Fraction of comparisons held out for accuracy and calibration.</summary>
    public double HeldOutFraction { get; init; } = 0.1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Comparisons per step.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Train with bfloat16 compute (float32 master weights). Off by default: on the 2-core dev CPU the default
    /// run's 119 PM steps took 139-140 s either way, so bf16 bought no time there (it may on a GPU).</summary>
    public bool Bf16 { get; init; }

    /// <summary>Two-choice or hh-rlhf files the PM is also evaluated on (paths relative to the repository; missing files are reported and skipped).</summary>
    public IReadOnlyList<string> EvaluationFiles { get; init; } = ["../shared/data/hh-rlhf/harmless-base-test.jsonl.gz"];

    /// <summary>At most this many comparisons of each evaluation file (200 gives the accuracy within about +-7 points
    /// at 95%; hh-rlhf dialogues are long, and 500 took ~100 s of the default run).</summary>
    public int EvaluationLimit { get; init; } = 200;
}

/// <summary>PPO sizes.</summary>
public sealed record PpoStage
{
    /// <summary>PPO iterations (rollout + update).</summary>
    public int Iterations { get; init; } = 60;

    /// <summary>Prompts rolled out per iteration.</summary>
    public int PromptsPerIteration { get; init; } = 64;

    /// <summary>Most tokens per rollout.</summary>
    public int MaxNewTokens { get; init; } = 48;

    /// <summary>Policy learning rate.</summary>
    public double LearningRate { get; init; } = 3e-5;

    /// <summary>Initial KL penalty coefficient (beta).</summary>
    public double KlCoefficient { get; init; } = 0.2;

    /// <summary>Target KL of the adaptive controller (nats per response); 0 keeps beta fixed. The policy must stay below it.</summary>
    public double KlTarget { get; init; } = 6;

    /// <summary>Optimisation epochs over each rollout batch.</summary>
    public int Epochs { get; init; } = 1;
}

/// <summary>Evaluation sizes (per policy).</summary>
public sealed record EvaluationStage
{
    /// <summary>Held-out harmful prompts.</summary>
    public int HarmfulPrompts { get; init; } = 300;

    /// <summary>Benign prompts (helpfulness and evasiveness).</summary>
    public int BenignPrompts { get; init; } = 1000;

    /// <summary>Most tokens per evaluated response.</summary>
    public int MaxNewTokens { get; init; } = 48;

    /// <summary>SL-CAI pairs on which AI feedback settings and the PM are compared with the oracle (0 skips it).</summary>
    public int LabelPairs { get; init; } = 200;

    /// <summary>Principles per comparison of the "ensemble" feedback setting in that comparison.</summary>
    public int EnsemblePrinciples { get; init; } = 4;
}
