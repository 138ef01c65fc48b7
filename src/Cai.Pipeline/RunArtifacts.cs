using System.Text.Json;
using System.Text.Json.Serialization;
using Cai.Core.Metrics;

namespace Cai.Pipeline;

/// <summary>
/// Where a run keeps what it makes, relative to its folder (<c>{ArtifactsRoot}/{runId}/</c>). Item stages append
/// JSON Lines (one record per item, keyed by id); training stages write a Hugging Face layout model folder with
/// their checkpoints beside it; the evaluation stage writes one JSON file per policy; the report stage writes
/// <c>report/report.md</c> with its PNGs.
/// </summary>
public static class RunLayout
{
    /// <summary>The run's state (<see cref="RunState"/>), rewritten after every change.</summary>
    public const string StateFile = "state.json";

    /// <summary>The run's prompts (<see cref="Cai.Inference.PromptItem"/> lines): red-team and helpful.</summary>
    public const string Prompts = "prompts/prompts.jsonl";

    /// <summary>SL-CAI critique/revision records (<see cref="Cai.Inference.RevisionItem"/> lines).</summary>
    public const string Revisions = "sl-cai/revisions.jsonl";

    /// <summary>SFT's output folder (checkpoints); the fine-tuned model is its <c>final/</c> folder.</summary>
    public const string Sft = "sft";

    /// <summary>Response pairs sampled from the SL-CAI policy (<see cref="Cai.Inference.PairItem"/> lines).</summary>
    public const string Pairs = "pairs/pairs.jsonl";

    /// <summary>AI-labelled comparisons (<see cref="Cai.Inference.ComparisonItem"/> lines).</summary>
    public const string Comparisons = "labels/comparisons.jsonl";

    /// <summary>Preference-model output folder (checkpoints, final model).</summary>
    public const string PreferenceModel = "preference-model";

    /// <summary>The PM's accuracy and calibration (<see cref="PmEvaluationFile"/>).</summary>
    public const string PmEvaluation = "preference-model/evaluation.json";

    /// <summary>PPO output folder (checkpoints, final policy).</summary>
    public const string Ppo = "ppo";

    /// <summary>PPO's per-iteration statistics (<see cref="Cai.Training.Ppo.PpoStepStats"/> lines, snake_case).</summary>
    public const string PpoLog = "ppo/log.jsonl";

    /// <summary>Evaluation folder: <c>{policy}.json</c> per policy (<see cref="PolicyEvaluationFile"/>) and <see cref="FeedbackEvaluation"/>.</summary>
    public const string Evaluation = "evaluation";

    /// <summary>AI feedback and PM against the oracle (<see cref="FeedbackEvaluationFile"/>).</summary>
    public const string FeedbackEvaluation = "evaluation/labels.json";

    /// <summary>The report folder; the report itself is <see cref="ReportFile"/>.</summary>
    public const string Report = "report";

    /// <summary>The run report (Markdown, PNGs beside it).</summary>
    public const string ReportFile = "report/report.md";

    /// <summary>The policies the evaluation stage measures, in pipeline order.</summary>
    public static readonly IReadOnlyList<string> Policies = ["base", "sl-cai", "rl-cai"];

    /// <summary>The evaluation file of a policy (e.g. <c>evaluation/sl-cai.json</c>).</summary>
    public static string PolicyEvaluation(string policy) => $"{Evaluation}/{policy}.json";

    /// <summary>JSON as every run artifact is written: snake_case, indented, enums as snake_case strings, NaN allowed.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <paramref name="value"/> as JSON to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public static void WriteJson<T>(string path, T value)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(value, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a JSON artifact.</summary>
    /// <exception cref="InvalidDataException">The file does not parse as <typeparamref name="T"/> (names the file).</exception>
    public static T ReadJson<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: the file holds null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}

/// <summary>How far a run or a stage has got.</summary>
public enum RunStatus
{
    Pending,
    Running,
    Done,
    Failed,
    /// <summary>A stage the configuration leaves out (e.g. RL-CAI turned off).</summary>
    Skipped,
}

/// <summary>One stage of a run as <c>state.json</c>, Redis and the orchestrator's RPCs show it.</summary>
/// <param name="Name">The stage name (see <see cref="CaiStages"/>).</param>
/// <param name="Status">Pending, running, done, failed or skipped.</param>
/// <param name="DoneItems">Items (or optimizer steps / iterations) finished.</param>
/// <param name="TotalItems">Items the stage will make; 0 when not known yet.</param>
/// <param name="StartedUtc">When the stage last started.</param>
/// <param name="FinishedUtc">When it finished.</param>
/// <param name="Seconds">Wall time the stage has run, summed over resumes.</param>
/// <param name="Message">The last progress line, or the error of a failed stage.</param>
/// <param name="Artifacts">What it wrote, by name (paths relative to the run folder), e.g. "model" -> "sft/final".</param>
public sealed record StageState(
    string Name,
    RunStatus Status = RunStatus.Pending,
    long DoneItems = 0,
    long TotalItems = 0,
    DateTimeOffset? StartedUtc = null,
    DateTimeOffset? FinishedUtc = null,
    double Seconds = 0,
    string? Message = null,
    IReadOnlyDictionary<string, string>? Artifacts = null);

/// <summary>A whole run: its stages in order, its status, and the report once written.</summary>
public sealed record RunState(
    string RunId,
    RunStatus Status,
    IReadOnlyList<StageState> Stages,
    DateTimeOffset CreatedUtc,
    DateTimeOffset UpdatedUtc,
    string? Message = null,
    string? ReportPath = null)
{
    /// <summary>The stage named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such stage.</exception>
    public StageState Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException($"run '{RunId}' has no stage '{name}'");

    /// <summary>This state with <paramref name="stage"/> replacing the stage of the same name.</summary>
    public RunState With(StageState stage) =>
        this with { Stages = [.. Stages.Select(s => s.Name == stage.Name ? stage : s)], UpdatedUtc = DateTimeOffset.UtcNow };

    /// <summary>True when the run has stopped for good (done or failed).</summary>
    [JsonIgnore]
    public bool IsFinished => Status is RunStatus.Done or RunStatus.Failed;
}

/// <summary>The stage names of a run, in order.</summary>
public static class CaiStages
{
    public const string Prompts = "prompts";
    public const string SlCai = "sl-cai";
    public const string Sft = "sft";
    public const string Pairs = "pairs";
    public const string Labels = "labels";
    public const string PreferenceModel = "preference-model";
    public const string Ppo = "ppo";
    public const string Evaluation = "evaluation";
    public const string Report = "report";

    /// <summary>Every stage, in the order a run takes them.</summary>
    public static readonly IReadOnlyList<string> All = [Prompts, SlCai, Sft, Pairs, Labels, PreferenceModel, Ppo, Evaluation, Report];
}

/// <summary>
/// One evaluated answer of a policy (<c>evaluation/{policy}.json</c>). <paramref name="OracleScore"/> is the
/// oracle's ordering of verdicts (higher is better for that prompt kind: for a harmful prompt harmless-and-engaged
/// 2, evasive 1, wrong 0.5, harmful 0; for a benign one helpful-correct 2, wrong 0.5, evasive 0), so two policies'
/// answers to the same prompt can be compared without the oracle. <paramref name="PmScore"/> is the run's
/// preference model's score of the whole dialogue, when a PM exists.
/// </summary>
public sealed record EvaluatedAnswer(
    string PromptId,
    string Kind,
    string Group,
    string Prompt,
    string Response,
    string Verdict,
    double OracleScore,
    double? PmScore = null);

/// <summary>
/// A policy measured on held-out prompts: the oracle's rates (harmlessness, payload-given, helpfulness,
/// evasiveness; per group "benign", "demonstration", "dev", "test" and "all") with Wilson intervals, and every
/// answer. <paramref name="Policy"/> is one of <see cref="RunLayout.Policies"/>.
/// </summary>
public sealed record PolicyEvaluationFile(
    string Policy,
    string Model,
    string Split,
    ulong Seed,
    double Seconds,
    IReadOnlyList<EvaluatedRate> Rates,
    IReadOnlyList<EvaluatedAnswer> Answers)
{
    /// <summary>The rate of <paramref name="metric"/> in <paramref name="group"/>, or null.</summary>
    public EvaluatedRate? Get(string metric, string group = "all") =>
        Rates.FirstOrDefault(r => r.Metric == metric && r.Group == group);
}

/// <summary>A measured proportion with its Wilson 95% interval (as in <c>Cai.Evaluation.RateEstimate</c>).</summary>
public sealed record EvaluatedRate(string Metric, string Group, int Count, int Total, double Rate, double Low, double High);

/// <summary>
/// How well one judge (an AI feedback setting, or the PM) agrees with the oracle on comparisons where the oracle
/// prefers one response: <paramref name="Agree"/> of <paramref name="Total"/> choose the oracle's, with the
/// calibration of its probability for the oracle's preferred response; <paramref name="ByKind"/> splits it by
/// prompt kind ("harmful", "sensitive_benign", "benign").
/// </summary>
public sealed record JudgeAgreement(
    string Judge,
    int Agree,
    int Total,
    double Accuracy,
    double ExpectedCalibrationError,
    IReadOnlyDictionary<string, KindAgreement> ByKind,
    CalibrationReport? Calibration = null);

/// <summary>Agreement within one prompt kind.</summary>
public sealed record KindAgreement(int Agree, int Total);

/// <summary>
/// AI feedback against the oracle (<c>evaluation/labels.json</c>): two SL-CAI answers were sampled for each of
/// <paramref name="PairsExamined"/> held-out test-category prompts (harmful and sensitive-benign); on the
/// <paramref name="DecisivePairs"/> pairs where the oracle prefers one answer, each judge's agreement. Judges are
/// "one-principle", "ensemble", "chain-of-thought" and "preference-model".
/// </summary>
public sealed record FeedbackEvaluationFile(int PairsExamined, int DecisivePairs, IReadOnlyList<JudgeAgreement> Judges, double Seconds);

/// <summary>
/// The preference model's evaluation (<c>preference-model/evaluation.json</c>): held-out AI comparisons and each
/// evaluation file (two-choice or hh-rlhf), with accuracy and calibration.
/// </summary>
public sealed record PmEvaluationFile(IReadOnlyList<PmDatasetEvaluation> Datasets);

/// <summary>Accuracy and calibration of the PM on one data set (<paramref name="Name"/>: "held-out" or a file name).</summary>
public sealed record PmDatasetEvaluation(string Name, int Count, double Accuracy, double ExpectedCalibrationError,
    CalibrationReport Calibration, string? ReliabilityPng = null);
