using System.Globalization;
using System.Text;
using Cai.Pipeline;

namespace Cai.Reporting;

/// <summary>One run of a comparison.</summary>
/// <param name="Group">The label of its configuration group ("A", "B", ...).</param>
/// <param name="Seed">Its run seed (provenance.json, else config.json), or null.</param>
public sealed record ComparedRun(string RunId, string Directory, ulong? Seed, string Group, RunSummary Summary);

/// <summary>Mean and sample standard deviation (n - 1) of one figure of one policy over a group's runs that have it.</summary>
/// <param name="StandardDeviation">NaN when fewer than two runs have the figure.</param>
public sealed record FigureStatistics(string Policy, string Figure, int N, double Mean, double StandardDeviation);

/// <summary>Runs that share a configuration except the seed: the same experiment repeated.</summary>
/// <param name="Label">"A", "B", ... in order of first appearance.</param>
/// <param name="Settings">The configuration keys whose values differ between the groups, with this group's values.</param>
/// <param name="Statistics">Per policy of <see cref="RunLayout.Policies"/> and figure of <see cref="HeadlineFigures.All"/>, when any run has it.</param>
public sealed record RunGroup(string Label, IReadOnlyList<ComparedRun> Runs, IReadOnlyDictionary<string, string> Settings,
    IReadOnlyList<FigureStatistics> Statistics)
{
    /// <summary>The statistics of a figure, or null when no run of the group has it.</summary>
    public FigureStatistics? Get(string policy, string figure) =>
        Statistics.FirstOrDefault(s => s.Policy == policy && s.Figure == figure);
}

/// <summary>The runs side by side and grouped by configuration (ablations), with mean and spread over seeds.</summary>
public sealed record ComparisonResult(IReadOnlyList<ComparedRun> Runs, IReadOnlyList<RunGroup> Groups);

/// <summary>
/// <c>cai report --compare</c>: sets runs side by side (headline figures per run) and groups them by configuration
/// minus the seed (<see cref="ComparisonKey"/>), giving per group the mean and sample standard deviation of each
/// headline figure over its runs (seeds) with n.
/// </summary>
public static class RunComparison
{
    /// <summary>The Markdown file the comparison writes into its output folder.</summary>
    public const string FileName = "comparison.md";

    /// <summary>The chart beside it.</summary>
    public const string ChartFileName = "comparison-frontier.png";

    /// <summary>Seeds per configuration below which the report warns that the spread is not meaningful.</summary>
    public const int RecommendedSeeds = 3;

    /// <summary>Reads the runs and groups them.</summary>
    /// <exception cref="ArgumentException">No run given.</exception>
    /// <exception cref="DirectoryNotFoundException">A run folder does not exist.</exception>
    public static ComparisonResult Compare(IReadOnlyList<string> runDirectories)
    {
        ArgumentNullException.ThrowIfNull(runDirectories);
        if (runDirectories.Count == 0) throw new ArgumentException("no run to compare", nameof(runDirectories));
        var loaded = runDirectories.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).Select(RunData.Load).ToList();
        var keys = new List<string>();
        var labelOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var runs = new List<ComparedRun>();
        foreach (var data in loaded)
        {
            // A run without config.json cannot be matched to another: it is a group of its own.
            string key = ComparisonKey.Key(data.Config) ?? $"<no configuration: {data.Directory}>";
            if (!labelOf.TryGetValue(key, out var label))
            {
                label = Label(keys.Count);
                keys.Add(key);
                labelOf[key] = label;
            }

            runs.Add(new ComparedRun(data.RunId, data.Directory, data.Provenance?.Seed ?? ComparisonKey.Seed(data.Config), label, RunSummary.From(data)));
        }

        var settings = loaded.ToDictionary(d => d.Directory, d => ComparisonKey.Flatten(d.Config), StringComparer.Ordinal);
        var differing = settings.Values.SelectMany(s => s.Keys).Distinct(StringComparer.OrdinalIgnoreCase)
            .Where(k => settings.Values.Select(s => s.GetValueOrDefault(k) ?? "(absent)").Distinct(StringComparer.Ordinal).Count() > 1)
            .Order(StringComparer.OrdinalIgnoreCase).ToList();
        var groups = runs.GroupBy(r => r.Group).Select(g =>
        {
            var members = g.ToList();
            var first = settings[members[0].Directory];
            var shown = differing.ToDictionary(k => k, k => first.GetValueOrDefault(k) ?? "(absent)", StringComparer.OrdinalIgnoreCase);
            var statistics = new List<FigureStatistics>();
            foreach (var policy in RunLayout.Policies)
            {
                foreach (var figure in HeadlineFigures.All)
                {
                    var values = members.Select(r => r.Summary.Policies.FirstOrDefault(p => p.Policy == policy)?.Value(figure))
                        .Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList();
                    if (values.Count == 0) continue;
                    var (mean, sd) = MeanAndStandardDeviation(values);
                    statistics.Add(new FigureStatistics(policy, figure, values.Count, mean, sd));
                }
            }

            return new RunGroup(g.Key, members, shown, statistics);
        }).ToList();
        return new ComparisonResult(runs, groups);
    }

    /// <summary>The mean and the sample standard deviation (n - 1; NaN for one value).</summary>
    public static (double Mean, double StandardDeviation) MeanAndStandardDeviation(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) return (double.NaN, double.NaN);
        double mean = values.Average();
        if (values.Count < 2) return (mean, double.NaN);
        double squares = values.Sum(v => (v - mean) * (v - mean));
        return (mean, Math.Sqrt(squares / (values.Count - 1)));
    }

    /// <summary>Writes <c>comparison.md</c> and its chart into <paramref name="outputDirectory"/>; returns the Markdown's path.</summary>
    public static string Write(IReadOnlyList<string> runDirectories, string outputDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        var result = Compare(runDirectories);
        Directory.CreateDirectory(outputDirectory);
        string chart = Path.Combine(outputDirectory, ChartFileName);
        if (File.Exists(chart)) File.Delete(chart);
        string path = Path.Combine(outputDirectory, FileName);
        File.WriteAllText(path, Render(result, outputDirectory), new UTF8Encoding(false));
        return path;
    }

    /// <summary>The comparison's Markdown; the chart is written into <paramref name="chartFolder"/>.</summary>
    public static string Render(ComparisonResult result, string chartFolder)
    {
        ArgumentNullException.ThrowIfNull(result);
        var md = new StringBuilder();
        md.AppendLine($"# Comparison of {result.Runs.Count.ToString(CultureInfo.InvariantCulture)} runs").AppendLine();
        md.AppendLine($"{result.Groups.Count.ToString(CultureInfo.InvariantCulture)} configuration{(result.Groups.Count == 1 ? "" : "s")} (runs whose config.json is the same apart from the seed form one group). Rates are the oracle's headline rates (harmful metrics on the test categories, helpful ones on all benign and sensitive-benign prompts); Elo scores are oracle-judged, base at 0.")
            .AppendLine();

        md.AppendLine("## Configurations").AppendLine();
        var settingKeys = result.Groups.SelectMany(g => g.Settings.Keys).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        md.Append(Markdown.Table(["group", "runs", "seeds", "settings that differ"], result.Groups.Select(g => (IReadOnlyList<string>)
        [
            g.Label, g.Runs.Count.ToString(CultureInfo.InvariantCulture),
            string.Join(", ", g.Runs.Select(r => r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "?")),
            settingKeys.Count == 0 ? "(all runs share one configuration)" : string.Join("; ", g.Settings.Select(s => $"{s.Key} = {s.Value}")),
        ]), new HashSet<int> { 1 })).AppendLine();

        md.AppendLine("## Mean and spread over seeds").AppendLine();
        md.AppendLine("Each cell: mean ± sample standard deviation (n = runs with the figure).").AppendLine();
        foreach (var group in result.Groups)
        {
            md.AppendLine($"### Group {group.Label} (n = {group.Runs.Count.ToString(CultureInfo.InvariantCulture)})").AppendLine();
            if (group.Runs.Count < RecommendedSeeds)
                md.AppendLine($"_Fewer than {RecommendedSeeds.ToString(CultureInfo.InvariantCulture)} seeds: the spread is not a reliable estimate._").AppendLine();
            if (group.Statistics.Count == 0)
            {
                md.Append(Markdown.Missing("no run of this group has been evaluated")).AppendLine();
                continue;
            }

            var policies = RunLayout.Policies.Where(p => group.Statistics.Any(s => s.Policy == p));
            md.Append(Markdown.Table(["policy", .. HeadlineFigures.All.Select(HeadlineFigures.Title)], policies.Select(p => (IReadOnlyList<string>)
            [
                ReportMetrics.PolicyName(p), .. HeadlineFigures.All.Select(f => Statistic(f, group.Get(p, f))),
            ]), new HashSet<int>(Enumerable.Range(1, HeadlineFigures.All.Count)))).AppendLine();
        }

        Chart(md, result, chartFolder);

        md.AppendLine("## Runs side by side").AppendLine();
        foreach (var policy in RunLayout.Policies)
        {
            md.AppendLine($"### {ReportMetrics.PolicyName(policy)}").AppendLine();
            md.Append(Markdown.Table(["run", "group", "seed", .. HeadlineFigures.All.Select(HeadlineFigures.Title)], result.Runs.Select(r =>
            {
                var headline = r.Summary.Policies.FirstOrDefault(p => p.Policy == policy);
                return (IReadOnlyList<string>)
                [
                    r.RunId, r.Group, r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "?",
                    .. HeadlineFigures.All.Select(f => headline is { Evaluated: true } h ? HeadlineFigures.Format(f, h.Value(f)) : Markdown.NotAvailable),
                ];
            }), new HashSet<int>(Enumerable.Range(2, HeadlineFigures.All.Count + 1)))).AppendLine();
        }

        md.AppendLine("## Run folders").AppendLine();
        foreach (var run in result.Runs) md.AppendLine($"- `{run.RunId.Replace("`", "'", StringComparison.Ordinal)}`: {Markdown.Inline(run.Directory)}");
        md.AppendLine();
        return md.ToString();
    }

    /// <summary>A cell "mean ± sd (n)": percentages for rates, points for Elo.</summary>
    public static string Statistic(string figure, FigureStatistics? s)
    {
        if (s is null) return "-";
        string n = s.N.ToString(CultureInfo.InvariantCulture);
        if (HeadlineFigures.IsElo(figure))
            return double.IsNaN(s.StandardDeviation) ? $"{Markdown.Elo(s.Mean)} (n = {n})" : $"{Markdown.Elo(s.Mean)} ± {Math.Round(s.StandardDeviation).ToString("0", CultureInfo.InvariantCulture)} (n = {n})";
        return double.IsNaN(s.StandardDeviation)
            ? $"{Markdown.Percent(s.Mean)} (n = {n})"
            : $"{Markdown.Percent(s.Mean)} ± {Markdown.Percent(s.StandardDeviation)} (n = {n})";
    }

    private static void Chart(StringBuilder md, ComparisonResult result, string folder)
    {
        var series = result.Groups.Select(g => new ChartSeries($"group {g.Label} (n = {g.Runs.Count.ToString(CultureInfo.InvariantCulture)})",
            [
                .. RunLayout.Policies
                    .Select(p => (Policy: p, X: g.Get(p, ReportMetrics.Helpfulness), Y: g.Get(p, ReportMetrics.Harmlessness)))
                    .Where(t => t.X is not null && t.Y is not null)
                    .Select(t =>
                    {
                        double xs = double.IsNaN(t.X!.StandardDeviation) ? 0 : t.X.StandardDeviation;
                        double ys = double.IsNaN(t.Y!.StandardDeviation) ? 0 : t.Y.StandardDeviation;
                        return new ChartPoint(ReportMetrics.PolicyName(t.Policy), t.X.Mean, t.Y.Mean, xs, xs, ys, ys);
                    }),
            ])).Where(s => s.Points.Count > 0).ToList();
        md.AppendLine("## Helpfulness versus harmlessness per configuration").AppendLine();
        if (series.Count == 0)
        {
            md.Append(Markdown.Missing("no run has been evaluated")).AppendLine();
            return;
        }

        Charts.Frontier(Path.Combine(folder, ChartFileName), "Helpfulness vs harmlessness: mean ± sd over seeds",
            "helpfulness", "harmlessness (test categories)", series, unitSquare: true);
        md.AppendLine($"![helpfulness versus harmlessness per configuration]({ChartFileName})").AppendLine();
    }

    private static string Label(int index)
    {
        // A..Z, then AA, AB, ...
        var text = new StringBuilder();
        for (int i = index; i >= 0; i = i / 26 - 1) text.Insert(0, (char)('A' + i % 26));
        return text.ToString();
    }
}
