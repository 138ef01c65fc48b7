using Cai.Core.Metrics;
using Cai.Pipeline;

namespace Cai.Reporting;

/// <summary>The oracle's rate names, as the evaluation stage writes them.</summary>
public static class ReportMetrics
{
    public const string Harmlessness = "harmlessness";
    public const string PayloadGiven = "payload-given";
    public const string Helpfulness = "helpfulness";
    public const string Evasiveness = "evasiveness";

    /// <summary>The headline rates in the order the report shows them.</summary>
    public static readonly IReadOnlyList<string> Headline = [Harmlessness, PayloadGiven, Helpfulness, Evasiveness];

    /// <summary>The rate groups in report order (others found in a file follow, alphabetically).</summary>
    public static readonly IReadOnlyList<string> Groups = ["benign", "demonstration", "dev", "test", "all"];

    /// <summary>True for the metrics measured on harmful prompts.</summary>
    public static bool IsHarmfulMetric(string metric) => metric is Harmlessness or PayloadGiven;

    /// <summary>
    /// The headline rate of a metric: harmful metrics on the held-out "test" categories (else "all"); helpful metrics
    /// on "all" helpful prompts (else "benign").
    /// </summary>
    public static EvaluatedRate? HeadlineRate(PolicyEvaluationFile? file, string metric)
    {
        if (file is null) return null;
        string[] groups = IsHarmfulMetric(metric) ? ["test", "all"] : ["all", "benign"];
        return groups.Select(g => file.Get(metric, g)).FirstOrDefault(r => r is not null);
    }

    /// <summary>Display name of a policy ("SL-CAI" for "sl-cai").</summary>
    public static string PolicyName(string policy) => policy switch
    {
        "base" => "base",
        "sl-cai" => "SL-CAI",
        "rl-cai" => "RL-CAI",
        _ => policy,
    };

    /// <summary>
    /// True for a harmful prompt kind ("harmful" as the evaluation writes it, "red-team" as SL-CAI's prompts are
    /// marked); sensitive-benign, benign and helpful prompts are helpful ones.
    /// </summary>
    public static bool IsHarmfulKind(string? kind) =>
        kind?.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant() is "harmful" or "redteam";
}

/// <summary>Who decides a pairwise comparison of two policies' answers to the same prompt.</summary>
public enum EloJudge
{
    /// <summary>The oracle's ordering of verdicts (<see cref="EvaluatedAnswer.OracleScore"/>).</summary>
    Oracle,
    /// <summary>The run's preference model (<see cref="EvaluatedAnswer.PmScore"/>).</summary>
    PreferenceModel,
}

/// <summary>Harmful prompts (harmlessness Elo) or helpful ones (helpfulness Elo).</summary>
public enum EloPrompts
{
    Harmful,
    Helpful,
}

/// <summary>Wins, ties and losses of <paramref name="PolicyA"/> against <paramref name="PolicyB"/>.</summary>
public sealed record HeadToHead(string PolicyA, string PolicyB, int Wins, int Ties, int Losses);

/// <summary>Elo ratings of the policies under one judge on one kind of prompt, with the games they came from.</summary>
/// <param name="Ratings">Rating per policy; "base" is 0 when it played (else the mean is 0).</param>
/// <param name="Games">Compared prompt pairs in all.</param>
public sealed record EloTable(EloJudge Judge, EloPrompts Prompts, IReadOnlyDictionary<string, double> Ratings, int Games, IReadOnlyList<HeadToHead> Pairs);

/// <summary>Elo scores of the stage policies from pairwise comparisons of their answers to the same prompts.</summary>
public static class PolicyElo
{
    /// <summary>
    /// Compares every two policies on each prompt id both answered (of the <paramref name="prompts"/> kind): the answer
    /// the judge scores higher wins, equal scores tie. Returns null when no pair of policies shares a scored prompt.
    /// </summary>
    public static EloTable? Compute(IReadOnlyList<PolicyEvaluationFile> policies, EloJudge judge, EloPrompts prompts)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var scored = policies.Select(p => (p.Policy, Scores: p.Answers
                .Where(a => ReportMetrics.IsHarmfulKind(a.Kind) == (prompts == EloPrompts.Harmful))
                .Select(a => (a.PromptId, Score: judge == EloJudge.Oracle ? a.OracleScore : a.PmScore))
                .Where(a => a.Score is { } s && !double.IsNaN(s))
                .GroupBy(a => a.PromptId, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Score!.Value, StringComparer.Ordinal)))
            .ToList();
        var results = new List<PairwiseResult>();
        var pairs = new List<HeadToHead>();
        for (int i = 0; i < scored.Count; i++)
        {
            for (int j = i + 1; j < scored.Count; j++)
            {
                var (a, b) = (scored[i], scored[j]);
                int wins = 0, ties = 0, losses = 0;
                foreach (var (id, scoreA) in a.Scores.OrderBy(s => s.Key, StringComparer.Ordinal))
                {
                    if (!b.Scores.TryGetValue(id, out double scoreB)) continue;
                    double result = scoreA > scoreB ? 1 : scoreA < scoreB ? 0 : 0.5;
                    if (result == 1) wins++;
                    else if (result == 0) losses++;
                    else ties++;
                    results.Add(new PairwiseResult(a.Policy, b.Policy, result));
                }

                if (wins + ties + losses > 0) pairs.Add(new HeadToHead(a.Policy, b.Policy, wins, ties, losses));
            }
        }

        if (results.Count == 0) return null;
        var players = results.SelectMany(r => new[] { r.PlayerA, r.PlayerB }).ToHashSet(StringComparer.Ordinal);
        var ratings = EloRatings.Fit(results, priorGames: 1.0, anchor: players.Contains("base") ? "base" : null);
        return new EloTable(judge, prompts, ratings, results.Count, pairs);
    }

    /// <summary>The four tables (oracle and PM, harmful and helpful prompts); absent ones are null.</summary>
    public static IReadOnlyList<(EloJudge Judge, EloPrompts Prompts, EloTable? Table)> All(IReadOnlyList<PolicyEvaluationFile> policies) =>
    [
        .. from judge in new[] { EloJudge.Oracle, EloJudge.PreferenceModel }
           from kind in new[] { EloPrompts.Harmful, EloPrompts.Helpful }
           select (judge, kind, Compute(policies, judge, kind)),
    ];
}
