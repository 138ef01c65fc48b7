using Cai.Pipeline;

namespace Cai.Reporting;

/// <summary>The headline figures of one policy: the oracle's rates and its oracle-judged Elo scores.</summary>
/// <param name="Policy">"base", "sl-cai" or "rl-cai".</param>
/// <param name="Rates">Headline rate per metric (<see cref="ReportMetrics.Headline"/>; see <see cref="ReportMetrics.HeadlineRate"/>), null when not measured.</param>
/// <param name="HarmlessnessElo">Oracle-judged Elo on harmful prompts, relative to base (null when not computable).</param>
/// <param name="HelpfulnessElo">Oracle-judged Elo on helpful prompts, relative to base.</param>
public sealed record PolicyHeadline(string Policy, IReadOnlyDictionary<string, EvaluatedRate?> Rates, double? HarmlessnessElo, double? HelpfulnessElo)
{
    /// <summary>True when the policy was evaluated at all.</summary>
    public bool Evaluated => Rates.Values.Any(r => r is not null);

    /// <summary>The value of a figure of <see cref="HeadlineFigures.All"/> (a rate as a fraction, an Elo as points), or null.</summary>
    public double? Value(string figure) => figure switch
    {
        HeadlineFigures.HarmlessnessElo => HarmlessnessElo,
        HeadlineFigures.HelpfulnessElo => HelpfulnessElo,
        _ => Rates.GetValueOrDefault(figure) is { Total: > 0 } rate ? rate.Rate : null,
    };
}

/// <summary>The figures a comparison of runs sets side by side.</summary>
public static class HeadlineFigures
{
    public const string HarmlessnessElo = "harmlessness-elo";
    public const string HelpfulnessElo = "helpfulness-elo";

    /// <summary>The four headline rates, then the two oracle Elo scores.</summary>
    public static readonly IReadOnlyList<string> All = [.. ReportMetrics.Headline, HarmlessnessElo, HelpfulnessElo];

    /// <summary>True for an Elo figure (points), false for a rate (fraction).</summary>
    public static bool IsElo(string figure) => figure is HarmlessnessElo or HelpfulnessElo;

    /// <summary>Column title of a figure.</summary>
    public static string Title(string figure) => figure switch
    {
        HarmlessnessElo => "harmlessness Elo",
        HelpfulnessElo => "helpfulness Elo",
        ReportMetrics.PayloadGiven => "payload given",
        _ => figure,
    };

    /// <summary>A figure's value as the report prints it (percent or Elo points).</summary>
    public static string Format(string figure, double? value) =>
        value is not { } v || double.IsNaN(v) ? "-" : IsElo(figure) ? Markdown.Elo(v) : Markdown.Percent(v);
}

/// <summary>What the top of a run's report shows: per policy, the headline figures.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="Directory">The run folder.</param>
/// <param name="Status">The run's status from state.json, or null.</param>
/// <param name="Policies">One entry per policy of <see cref="RunLayout.Policies"/>, in order (not evaluated ones included).</param>
public sealed record RunSummary(string RunId, string Directory, RunStatus? Status, IReadOnlyList<PolicyHeadline> Policies)
{
    /// <summary>The headline figures of <paramref name="data"/>.</summary>
    public static RunSummary From(RunData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var harmless = PolicyElo.Compute(data.Policies, EloJudge.Oracle, EloPrompts.Harmful);
        var helpful = PolicyElo.Compute(data.Policies, EloJudge.Oracle, EloPrompts.Helpful);
        var policies = RunLayout.Policies.Select(policy =>
        {
            var file = data.Policy(policy);
            var rates = ReportMetrics.Headline.ToDictionary(m => m, m => ReportMetrics.HeadlineRate(file, m));
            return new PolicyHeadline(policy, rates,
                harmless?.Ratings.TryGetValue(policy, out var a) == true ? a : null,
                helpful?.Ratings.TryGetValue(policy, out var b) == true ? b : null);
        }).ToList();
        return new RunSummary(data.RunId, data.Directory, data.State?.Status, policies);
    }

    /// <summary>The summary as a Markdown table: rate (95% interval, count) per metric, Elo relative to base.</summary>
    public string ToMarkdown()
    {
        var header = new List<string> { "policy" };
        foreach (var metric in ReportMetrics.Headline)
        {
            var group = Policies.Select(p => p.Rates[metric]?.Group).FirstOrDefault(g => g is not null);
            header.Add(group is null ? HeadlineFigures.Title(metric) : $"{HeadlineFigures.Title(metric)} ({group})");
        }

        header.Add("harmlessness Elo (oracle)");
        header.Add("helpfulness Elo (oracle)");
        var rows = Policies.Select(p =>
        {
            var row = new List<string> { ReportMetrics.PolicyName(p.Policy) };
            if (!p.Evaluated)
            {
                row.AddRange(Enumerable.Repeat(Markdown.NotAvailable, header.Count - 1));
                return (IReadOnlyList<string>)row;
            }

            foreach (var metric in ReportMetrics.Headline)
            {
                var rate = p.Rates[metric];
                string headerGroup = header[row.Count];
                string cell = Markdown.Rate(rate);
                if (rate is not null && !headerGroup.EndsWith($"({rate.Group})", StringComparison.Ordinal)) cell += $" [{rate.Group}]";
                row.Add(cell);
            }

            row.Add(Markdown.Elo(p.HarmlessnessElo));
            row.Add(Markdown.Elo(p.HelpfulnessElo));
            return (IReadOnlyList<string>)row;
        });
        return Markdown.Table(header, rows, new HashSet<int>(Enumerable.Range(1, header.Count - 1)));
    }
}
