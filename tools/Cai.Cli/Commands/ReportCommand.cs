using System.CommandLine;
using Cai.Reporting;
using Spectre.Console;

namespace Cai.Cli.Commands;

/// <summary>Every option of <c>cai report</c>.</summary>
public sealed record ReportSettings
{
    /// <summary>Run folders or run ids (resolved under <see cref="ReportCommand.DefaultArtifactsRoot"/>).</summary>
    public required IReadOnlyList<string> Runs { get; init; }

    /// <summary>Compare the runs instead of reporting one.</summary>
    public bool Compare { get; init; }

    /// <summary>Output folder of a comparison (default <see cref="ReportCommand.DefaultComparisonFolder"/>).</summary>
    public string? Output { get; init; }
}

/// <summary>
/// <c>cai report RUN</c> writes a run's report (report/report.md with PNG charts) and prints its summary table;
/// <c>cai report --compare RUN RUN ...</c> sets runs side by side and gives, per configuration (ignoring the
/// seed), the mean and spread of the headline figures over its seeds.
/// </summary>
public static class ReportCommand
{
    /// <summary>Where a run id that is not a folder is looked up.</summary>
    public const string DefaultArtifactsRoot = "runs";

    /// <summary>Where <c>--compare</c> writes without <c>--output</c>.</summary>
    public const string DefaultComparisonFolder = "comparison";

    public static Command Create(IAnsiConsole console)
    {
        var runs = new Argument<string[]>("RUN")
        {
            Description = $"A run folder, or a run id under ./{DefaultArtifactsRoot}/. Several with --compare.",
            Arity = ArgumentArity.OneOrMore,
        };
        var compare = new Option<bool>("--compare")
        {
            Description = "Compare runs (ablations, seeds): headline figures side by side, and mean ± sd over the seeds of each configuration.",
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = $"Folder for the comparison (comparison.md and its chart); default ./{DefaultComparisonFolder}.",
        };
        var command = new Command("report", "Write a run's report (report/report.md with PNG charts: per-stage harmlessness, helpfulness and evasiveness, Elo, PM calibration, PPO curves, transcripts), or compare runs with --compare.")
        {
            runs, compare, output,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var settings = new ReportSettings
            {
                Runs = parse.GetValue(runs) ?? [],
                Compare = parse.GetValue(compare),
                Output = parse.GetValue(output),
            };
            return CommandRunner.RunAsync(console, () => Run(settings, console), cancellationToken);
        });
        return command;
    }

    /// <summary>Writes the report or comparison, prints its path and table; returns the Markdown's path.</summary>
    /// <exception cref="ArgumentException">Bad arguments (several runs without --compare, --output without it).</exception>
    /// <exception cref="DirectoryNotFoundException">A run is neither a folder nor a run id under ./runs/.</exception>
    public static string Run(ReportSettings settings, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        if (settings.Runs.Count == 0) throw new ArgumentException("give a run folder or run id");
        if (!settings.Compare)
        {
            if (settings.Runs.Count > 1) throw new ArgumentException($"{settings.Runs.Count} runs given: report one run, or compare several with --compare");
            if (settings.Output is not null) throw new ArgumentException("--output applies to --compare; a run's report is always written to its report/ folder");
            string folder = ResolveRun(settings.Runs[0]);
            string path = RunReport.Write(folder);
            console.MarkupLine($"Report written to [blue]{Markup.Escape(path)}[/]");
            console.Write(SummaryTable(RunSummary.From(RunData.Load(folder))));
            return path;
        }

        var folders = settings.Runs.Select(ResolveRun).ToList();
        string outputFolder = Path.GetFullPath(settings.Output ?? DefaultComparisonFolder);
        string comparison = RunComparison.Write(folders, outputFolder);
        console.MarkupLine($"Comparison of {folders.Count} runs written to [blue]{Markup.Escape(comparison)}[/]");
        foreach (var group in RunComparison.Compare(folders).Groups) console.Write(GroupTable(group));
        return comparison;
    }

    /// <summary>A run folder from an argument: an existing folder, else a run id under ./runs/.</summary>
    /// <exception cref="DirectoryNotFoundException">Neither exists.</exception>
    public static string ResolveRun(string run)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(run);
        if (Directory.Exists(run)) return Path.GetFullPath(run);
        string underRuns = Path.Combine(DefaultArtifactsRoot, run);
        if (Path.GetFileName(run) == run && Directory.Exists(underRuns)) return Path.GetFullPath(underRuns);
        throw new DirectoryNotFoundException($"run not found: '{run}' is neither a folder nor a run id under ./{DefaultArtifactsRoot}/");
    }

    /// <summary>The report's headline table: per policy, rate and 95% interval of each headline metric, and oracle Elo.</summary>
    public static Table SummaryTable(RunSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var table = new Table().Title(Markup.Escape($"run {summary.RunId}")).AddColumn("policy");
        foreach (var metric in ReportMetrics.Headline)
        {
            string? group = summary.Policies.Select(p => p.Rates[metric]?.Group).FirstOrDefault(g => g is not null);
            table.AddColumn(new TableColumn(Markup.Escape(group is null ? HeadlineFigures.Title(metric) : $"{HeadlineFigures.Title(metric)} ({group})")).RightAligned());
        }

        table.AddColumn(new TableColumn("harmlessness Elo").RightAligned()).AddColumn(new TableColumn("helpfulness Elo").RightAligned());
        foreach (var p in summary.Policies)
        {
            var cells = new List<string> { ReportMetrics.PolicyName(p.Policy) };
            if (!p.Evaluated)
            {
                cells.AddRange(Enumerable.Repeat(Markdown.NotAvailable, table.Columns.Count - 1));
            }
            else
            {
                cells.AddRange(ReportMetrics.Headline.Select(m => p.Rates[m] is { Total: > 0 } r
                    ? $"{Markdown.Percent(r.Rate)} ({Markdown.Percent(r.Low).TrimEnd('%')}-{Markdown.Percent(r.High)})"
                    : "-"));
                cells.Add(Markdown.Elo(p.HarmlessnessElo));
                cells.Add(Markdown.Elo(p.HelpfulnessElo));
            }

            table.AddRow([.. cells.Select(Markup.Escape)]);
        }

        return table;
    }

    /// <summary>One configuration group of a comparison: mean ± sd (n) per policy and headline figure.</summary>
    public static Table GroupTable(RunGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        string settings = group.Settings.Count == 0 ? "" : " - " + string.Join("; ", group.Settings.Select(s => $"{s.Key} = {s.Value}"));
        var table = new Table().Title(Markup.Escape($"group {group.Label}: {group.Runs.Count} run(s){settings}")).AddColumn("policy");
        foreach (var figure in HeadlineFigures.All) table.AddColumn(new TableColumn(Markup.Escape(HeadlineFigures.Title(figure))).RightAligned());
        foreach (var policy in Cai.Pipeline.RunLayout.Policies.Where(p => group.Statistics.Any(s => s.Policy == p)))
        {
            table.AddRow([Markup.Escape(ReportMetrics.PolicyName(policy)),
                .. HeadlineFigures.All.Select(f => Markup.Escape(RunComparison.Statistic(f, group.Get(policy, f))))]);
        }

        return table;
    }
}
