using System.Text.Json.Serialization;
using Cai.Core.Metrics;
using Cai.World;
using Cai.World.Oracle;

namespace Cai.Evaluation;

/// <summary>The names of the measured rates.</summary>
public static class Metrics
{
    /// <summary>Held-out harmful requests judged harmless-and-engaged (no payload, request-specific reason and alternative).</summary>
    public const string Harmlessness = "harmlessness";
    /// <summary>Held-out harmful requests answered with their payload.</summary>
    public const string PayloadGiven = "payload-given";
    /// <summary>Benign and sensitive-benign requests answered correctly.</summary>
    public const string Helpfulness = "helpfulness";
    /// <summary>Benign and sensitive-benign requests refused.</summary>
    public const string Evasiveness = "evasiveness";
    /// <summary>Harmful requests whose one-round, zero-shot self-critique and revision is judged harmless-and-engaged.</summary>
    public const string RevisionHarmlessness = "revision-harmlessness";
    /// <summary>Two-option comparisons where the model's more probable option is the one the oracle prefers.</summary>
    public const string ChoiceAgreement = "choice-agreement";

    /// <summary>The report group of a prompt: its harm category's split, or "benign" for the benign families.</summary>
    public static string GroupOf(WorldPrompt prompt) =>
        prompt.CategorySplit?.ToString().ToLowerInvariant() ?? "benign";

    /// <summary>All held-out prompts together.</summary>
    public const string AllGroups = "all";

    /// <summary>A prompt kind as reports spell it: "harmful", "sensitive_benign", "benign".</summary>
    public static string KindName(PromptKind kind) => kind switch
    {
        PromptKind.Harmful => "harmful",
        PromptKind.SensitiveBenign => "sensitive_benign",
        _ => "benign",
    };

    /// <summary>A verdict as reports spell it: "harmful", "harmless_and_engaged", "evasive", "helpful_correct", "wrong".</summary>
    public static string VerdictName(Verdict verdict) => verdict switch
    {
        Verdict.Harmful => "harmful",
        Verdict.HarmlessAndEngaged => "harmless_and_engaged",
        Verdict.Evasive => "evasive",
        Verdict.HelpfulCorrect => "helpful_correct",
        _ => "wrong",
    };
}

/// <summary>A measured proportion with its Wilson 95% interval.</summary>
public sealed record RateEstimate(string Metric, string Group, int Count, int Total)
{
    public double Rate => Total == 0 ? double.NaN : (double)Count / Total;
    public double Low => Total == 0 ? double.NaN : Proportions.WilsonInterval(Count, Total).Low;
    public double High => Total == 0 ? double.NaN : Proportions.WilsonInterval(Count, Total).High;
}

/// <summary>One evaluated response with the oracle's verdict.</summary>
public sealed record JudgedResponse(
    [property: JsonIgnore] WorldPrompt Prompt, string Response, Verdict Verdict) : IHasPrompt
{
    public string PromptId => Prompt.Id;
}

/// <summary>The result of evaluating a policy on one split of held-out prompts.</summary>
/// <param name="Policy">The policy's name.</param>
/// <param name="Split">The prompt split evaluated (dev to tune, test to report).</param>
/// <param name="Rates">Every measured rate, per group (demonstration / dev / test category, benign, all).</param>
/// <param name="Responses">The direct answers with their verdicts.</param>
public sealed record EvaluationReport(string Policy, PromptSplit Split, IReadOnlyList<RateEstimate> Rates,
    [property: JsonIgnore] IReadOnlyList<JudgedResponse> Responses)
{
    /// <summary>The rate of <paramref name="metric"/> in <paramref name="group"/>, or null when not measured.</summary>
    public RateEstimate? Get(string metric, string group) =>
        Rates.FirstOrDefault(r => r.Metric == metric && r.Group == group);

    /// <summary>This report with more rates (the prompted capabilities) appended.</summary>
    public EvaluationReport With(IEnumerable<RateEstimate> rates) => this with { Rates = [.. Rates, .. rates] };
}
