using System.Globalization;
using System.Text;
using Cai.Core.Metrics;
using Cai.Inference;
using Cai.Pipeline;

namespace Cai.Reporting;

/// <summary>
/// The run report (<c>report/report.md</c> with PNGs beside it): the headline table of base, SL-CAI and RL-CAI,
/// the paper's helpfulness-versus-harmlessness chart, Elo scores (oracle- and PM-judged), PM and AI-feedback
/// calibration, PPO curves, rates per group, sample transcripts and stage timings. Every section copes with a
/// stage that has not run (or is skipped) by saying its inputs are not available.
/// </summary>
public static class RunReport
{
    /// <summary>The PNG files the report may write (removed first, so a stale chart never outlives its data).</summary>
    public static readonly IReadOnlyList<string> ChartFiles =
    [
        "helpful-harmless.png", "elo-frontier.png", "elo.png", "pm-calibration.png", "feedback-calibration.png",
        "ppo-reward.png", "ppo-kl.png",
    ];

    /// <summary>How many SL-CAI records and RL-CAI/SL-CAI answer pairs the transcripts section shows.</summary>
    public const int Samples = 3;

    /// <summary>Writes the report of <paramref name="runDirectory"/> and returns the path of report.md.</summary>
    /// <exception cref="DirectoryNotFoundException">The run folder does not exist.</exception>
    public static string Write(string runDirectory)
    {
        var data = RunData.Load(runDirectory);
        string folder = Path.Combine(data.Directory, RunLayout.Report);
        Directory.CreateDirectory(folder);
        foreach (var chart in ChartFiles)
        {
            string stale = Path.Combine(folder, chart);
            if (File.Exists(stale)) File.Delete(stale);
        }

        string markdown = Render(data, folder);
        string path = Path.Combine(data.Directory, RunLayout.ReportFile);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, markdown, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>The report's Markdown; charts are written into <paramref name="chartFolder"/>.</summary>
    public static string Render(RunData data, string chartFolder)
    {
        ArgumentNullException.ThrowIfNull(data);
        var summary = RunSummary.From(data);
        var md = new StringBuilder();
        Header(md, data);
        md.AppendLine("## Summary").AppendLine();
        if (data.Policies.Count == 0)
        {
            md.Append(Markdown.Missing($"no policy has been evaluated yet ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
        }

        md.Append(summary.ToMarkdown()).AppendLine();
        md.AppendLine("Rates are the oracle's, with Wilson 95% intervals and counts. Harmlessness (harmless and engaged) and payload given are measured on harmful prompts of the held-out **test** categories; helpfulness (correct answer) and evasiveness (refusal) on all benign and sensitive-benign prompts. Elo scores come from pairwise comparisons of the policies' answers to the same prompts, judged by the oracle, with base at 0.")
            .AppendLine();
        Frontier(md, data, summary, chartFolder);
        Elo(md, data, chartFolder);
        Calibration(md, data, chartFolder);
        Feedback(md, data);
        Ppo(md, data, chartFolder);
        RatesByGroup(md, data);
        Transcripts(md, data);
        Timings(md, data);
        return md.ToString();
    }

    private static void Header(StringBuilder md, RunData data)
    {
        md.AppendLine($"# Constitutional AI run `{data.RunId.Replace("`", "'", StringComparison.Ordinal)}`").AppendLine();
        var facts = new List<string>();
        if (data.State is { } state)
        {
            // The report stage writes this while the run is formally still running: with every other stage done
            // (or skipped), the run's work is done.
            var status = state.Status == RunStatus.Running && state.Stages.All(s => s.Name == CaiStages.Report || s.Status is RunStatus.Done or RunStatus.Skipped)
                ? RunStatus.Done : state.Status;
            facts.Add($"status **{status.ToString().ToLowerInvariant()}**");
            facts.Add($"created {state.CreatedUtc.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC");
            facts.Add($"updated {state.UpdatedUtc.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC");
        }
        else
        {
            facts.Add("run state not available");
        }

        if (data.Config?["Profile"]?.ToString() is { } profile) facts.Add($"profile {Markdown.Inline(profile)}");
        ulong? seed = data.Provenance?.Seed;
        if (seed is null && ComparisonKey.Seed(data.Config) is { } configSeed) seed = configSeed;
        if (seed is not null) facts.Add($"seed {seed.Value.ToString(CultureInfo.InvariantCulture)}");
        if (data.Provenance?.GitCommit is { } commit)
            facts.Add($"commit `{commit[..Math.Min(12, commit.Length)]}`{(data.Provenance.GitDirty == true ? " (with local changes)" : "")}");
        md.AppendLine(string.Join(" · ", facts)).AppendLine();
        if (data.State?.Message is { Length: > 0 } message) md.AppendLine($"> {Markdown.Inline(message)}").AppendLine();
        if (data.Problems.Count > 0)
        {
            md.AppendLine("> **Warning:** some artifacts could not be read and their sections are not available:");
            foreach (var problem in data.Problems) md.AppendLine($"> - {Markdown.Inline(problem)}");
            md.AppendLine();
        }
    }

    /// <summary>Why a stage's output is missing, from state.json: "the ppo stage is skipped", "... has not run yet".</summary>
    private static string StageNote(RunData data, string stage)
    {
        if (data.State?.Stages?.FirstOrDefault(s => s.Name == stage) is not { } s) return $"no {stage} output in the run folder";
        return s.Status switch
        {
            RunStatus.Skipped => $"the {stage} stage is skipped in this run's configuration",
            RunStatus.Failed => $"the {stage} stage failed{(s.Message is { Length: > 0 } m ? ": " + m : "")}",
            RunStatus.Running => $"the {stage} stage is still running",
            RunStatus.Pending => $"the {stage} stage has not run yet",
            _ => $"the {stage} stage wrote no such output",
        };
    }

    private static string Image(string alt, string file) => $"![{alt}]({file})\n";

    private static void Frontier(StringBuilder md, RunData data, RunSummary summary, string folder)
    {
        md.AppendLine("## Helpfulness versus harmlessness").AppendLine();
        var evaluated = summary.Policies.Where(p => p.Evaluated).ToList();
        var rated = evaluated
            .Where(p => p.Value(ReportMetrics.Helpfulness) is not null && p.Value(ReportMetrics.Harmlessness) is not null)
            .Select(p =>
            {
                var x = p.Rates[ReportMetrics.Helpfulness]!;
                var y = p.Rates[ReportMetrics.Harmlessness]!;
                return new ChartPoint(ReportMetrics.PolicyName(p.Policy), x.Rate, y.Rate,
                    Math.Max(0, x.Rate - x.Low), Math.Max(0, x.High - x.Rate), Math.Max(0, y.Rate - y.Low), Math.Max(0, y.High - y.Rate));
            })
            .ToList();
        if (rated.Count == 0)
        {
            md.Append(Markdown.Missing($"needs an evaluated policy ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
            return;
        }

        Charts.Frontier(Path.Combine(folder, "helpful-harmless.png"), "Helpfulness vs harmlessness (oracle rates, 95% intervals)",
            "helpfulness (benign and sensitive-benign prompts)", "harmlessness (test harmful prompts)",
            [new ChartSeries("policies", rated)], unitSquare: true);
        md.AppendLine("Each point is a stage's policy, connected in pipeline order (base → SL-CAI → RL-CAI); up and to the right is better.")
            .AppendLine().Append(Image("helpfulness versus harmlessness rates", "helpful-harmless.png")).AppendLine();
        var elo = evaluated.Where(p => p.HelpfulnessElo is not null && p.HarmlessnessElo is not null)
            .Select(p => new ChartPoint(ReportMetrics.PolicyName(p.Policy), p.HelpfulnessElo!.Value, p.HarmlessnessElo!.Value))
            .ToList();
        if (elo.Count >= 2)
        {
            Charts.Frontier(Path.Combine(folder, "elo-frontier.png"), "Helpfulness vs harmlessness Elo (oracle-judged, base = 0)",
                "helpfulness Elo", "harmlessness Elo", [new ChartSeries("policies", elo)], unitSquare: false);
            md.AppendLine("The same in oracle-judged Elo scores, as the paper draws it:").AppendLine()
                .Append(Image("helpfulness versus harmlessness Elo", "elo-frontier.png")).AppendLine();
        }
    }

    private static void Elo(StringBuilder md, RunData data, string folder)
    {
        md.AppendLine("## Elo scores").AppendLine();
        var tables = PolicyElo.All(data.Policies);
        if (tables.All(t => t.Table is null))
        {
            md.Append(Markdown.Missing(data.Policies.Count < 2
                ? $"needs at least two evaluated policies ({data.Policies.Count} so far)"
                : "the evaluated policies share no answered prompt")).AppendLine();
            return;
        }

        md.AppendLine("Every two policies are compared on each prompt both answered: the judge's higher score wins, equal scores draw. Ratings are the Bradley-Terry maximum-likelihood fit on the Elo scale, base at 0; a difference of 100 points means the higher one wins 64% of comparisons.")
            .AppendLine();
        var policies = data.Policies.Select(p => p.Policy).ToList();
        string Column((EloJudge Judge, EloPrompts Prompts, EloTable? Table) t) =>
            $"{(t.Prompts == EloPrompts.Harmful ? "harmlessness" : "helpfulness")} ({(t.Judge == EloJudge.Oracle ? "oracle" : "PM")})";
        var header = new List<string> { "policy" };
        header.AddRange(tables.Select(Column));
        var rows = policies.Select(p => (IReadOnlyList<string>)
            [ReportMetrics.PolicyName(p), .. tables.Select(t => t.Table?.Ratings.TryGetValue(p, out var r) == true ? Markdown.Elo(r) : "-")]);
        md.Append(Markdown.Table(header, rows, new HashSet<int>(Enumerable.Range(1, header.Count - 1)))).AppendLine();
        md.AppendLine(string.Join("; ", tables.Select(t => $"{Column(t)}: {(t.Table is null ? Markdown.NotAvailable : $"{t.Table.Games.ToString(CultureInfo.InvariantCulture)} comparisons")}")) + ".")
            .AppendLine();
        if (tables.Any(t => t.Judge == EloJudge.PreferenceModel && t.Table is null))
            md.AppendLine($"PM-judged scores are not available where the answers carry no PM score ({StageNote(data, CaiStages.PreferenceModel)} or the evaluation did not score with it).").AppendLine();

        var pairRows = tables.Where(t => t.Table is not null).SelectMany(t => t.Table!.Pairs.Select(p => (IReadOnlyList<string>)
        [
            Column(t), $"{ReportMetrics.PolicyName(p.PolicyA)} vs {ReportMetrics.PolicyName(p.PolicyB)}",
            p.Wins.ToString(CultureInfo.InvariantCulture), p.Ties.ToString(CultureInfo.InvariantCulture), p.Losses.ToString(CultureInfo.InvariantCulture),
        ]));
        md.AppendLine("<details><summary>Head-to-head counts</summary>").AppendLine();
        md.Append(Markdown.Table(["judged", "pair", "wins", "draws", "losses"], pairRows, new HashSet<int> { 2, 3, 4 })).AppendLine();
        md.AppendLine("</details>").AppendLine();

        var present = tables.Where(t => t.Table is not null).ToList();
        Charts.GroupedBars(Path.Combine(folder, "elo.png"), "Elo scores of the policies (base = 0)", "Elo",
            [.. policies.Select(ReportMetrics.PolicyName)],
            [.. present.Select(t => (Column(t), (IReadOnlyList<double?>)[.. policies.Select(p => t.Table!.Ratings.TryGetValue(p, out var r) ? r : (double?)null)]))]);
        md.Append(Image("Elo scores per policy", "elo.png")).AppendLine();
    }

    private static void Calibration(StringBuilder md, RunData data, string folder)
    {
        md.AppendLine("## Preference model calibration").AppendLine();
        if (data.PreferenceModel is not { Datasets.Count: > 0 } pm)
        {
            md.Append(Markdown.Missing($"no preference-model evaluation ({StageNote(data, CaiStages.PreferenceModel)})")).AppendLine();
        }
        else
        {
            var rows = pm.Datasets.Select(d => (IReadOnlyList<string>)
            [
                d.Name, d.Count.ToString(CultureInfo.InvariantCulture), Markdown.Percent(d.Accuracy), Markdown.Number(d.ExpectedCalibrationError),
                ExistingPng(data, d.ReliabilityPng) is { } png ? $"[diagram]({png})" : "-",
            ]);
            md.Append(Markdown.Table(["data set", "comparisons", "accuracy", "ECE", "PM's own diagram"], rows, new HashSet<int> { 1, 2, 3 })).AppendLine();
            var series = pm.Datasets.Where(d => d.Calibration is { Bins.Count: > 0 }).Select(d => (d.Name, d.Calibration)).ToList();
            if (series.Count > 0)
            {
                Charts.Reliability(Path.Combine(folder, "pm-calibration.png"), "Preference model: reliability", series);
                md.AppendLine("Reliability diagram: for each bin of the PM's probability for the preferred response, the observed frequency; the dashed diagonal is perfect calibration.")
                    .AppendLine().Append(Image("PM reliability diagram", "pm-calibration.png")).AppendLine();
            }
        }

        md.AppendLine("### AI feedback calibration").AppendLine();
        var judges = data.Feedback?.Judges?.Where(j => j.Calibration is { Bins.Count: > 0 }).ToList() ?? [];
        if (data.Feedback is null)
        {
            md.Append(Markdown.Missing($"no AI-feedback evaluation ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
            return;
        }

        md.Append(Markdown.Table(["judge", "accuracy", "ECE"],
            data.Feedback.Judges.Select(j => (IReadOnlyList<string>)[j.Judge, Markdown.Percent(j.Accuracy), Markdown.Number(j.ExpectedCalibrationError)]),
            new HashSet<int> { 1, 2 })).AppendLine();
        if (judges.Count == 0)
        {
            md.Append(Markdown.Missing("the judges' reliability bins were not recorded")).AppendLine();
            return;
        }

        Charts.Reliability(Path.Combine(folder, "feedback-calibration.png"), "AI feedback judges: reliability against the oracle",
            [.. judges.Select(j => (j.Judge, j.Calibration!))]);
        md.Append(Image("AI feedback reliability diagram", "feedback-calibration.png")).AppendLine();
    }

    private static string? ExistingPng(RunData data, string? png)
    {
        if (string.IsNullOrWhiteSpace(png)) return null;
        string full = Path.IsPathRooted(png) ? png : Path.Combine(data.Directory, png);
        if (!File.Exists(full)) return null;
        return Path.GetRelativePath(Path.Combine(data.Directory, RunLayout.Report), full).Replace('\\', '/').Replace(" ", "%20", StringComparison.Ordinal);
    }

    private static void Feedback(StringBuilder md, RunData data)
    {
        md.AppendLine("## AI feedback versus the oracle").AppendLine();
        if (data.Feedback is not { } feedback)
        {
            md.Append(Markdown.Missing($"no AI-feedback evaluation ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
            return;
        }

        md.AppendLine($"On {feedback.DecisivePairs.ToString(CultureInfo.InvariantCulture)} of {feedback.PairsExamined.ToString(CultureInfo.InvariantCulture)} SL-CAI answer pairs the oracle prefers one answer; each judge's agreement with it:")
            .AppendLine();
        if (feedback.Judges is not { Count: > 0 })
        {
            md.Append(Markdown.Missing("no judge was evaluated")).AppendLine();
            return;
        }

        string[] knownKinds = ["harmful", "sensitive_benign", "benign"];
        var kinds = feedback.Judges.SelectMany(j => j.ByKind?.Keys ?? []).Distinct()
            .OrderBy(k => Array.IndexOf(knownKinds, k) is var i && i >= 0 ? i : knownKinds.Length).ThenBy(k => k, StringComparer.Ordinal).ToList();
        var header = new List<string> { "judge", "agree", "accuracy", "ECE" };
        header.AddRange(kinds.Select(k => k.Replace('_', '-')));
        var rows = feedback.Judges.Select(j => (IReadOnlyList<string>)
        [
            j.Judge, $"{j.Agree.ToString(CultureInfo.InvariantCulture)}/{j.Total.ToString(CultureInfo.InvariantCulture)}",
            Markdown.Percent(j.Accuracy), Markdown.Number(j.ExpectedCalibrationError),
            .. kinds.Select(k => j.ByKind?.GetValueOrDefault(k) is { } a
                ? $"{(a.Total == 0 ? "-" : Markdown.Percent((double)a.Agree / a.Total))} ({a.Agree.ToString(CultureInfo.InvariantCulture)}/{a.Total.ToString(CultureInfo.InvariantCulture)})"
                : "-"),
        ]);
        md.Append(Markdown.Table(header, rows, new HashSet<int>(Enumerable.Range(1, header.Count - 1)))).AppendLine();
    }

    private static void Ppo(StringBuilder md, RunData data, string folder)
    {
        md.AppendLine("## PPO").AppendLine();
        if (data.Ppo is not { Count: > 0 } log)
        {
            md.Append(Markdown.Missing($"no PPO log ({StageNote(data, CaiStages.Ppo)})")).AppendLine();
            return;
        }

        var first = log[0];
        var last = log[^1];
        string Iterations() => last.TotalIterations > 0
            ? $"{log.Count.ToString(CultureInfo.InvariantCulture)} of {last.TotalIterations.ToString(CultureInfo.InvariantCulture)}"
            : log.Count.ToString(CultureInfo.InvariantCulture);
        var rows = new List<IReadOnlyList<string>>
        {
            new[] { "iterations logged", Iterations() },
            new[] { "mean PM score (first → last)", $"{Markdown.Number(first.MeanScore)} → {Markdown.Number(last.MeanScore)}" },
            new[] { "mean reward, score − KL penalty (first → last)", $"{Markdown.Number(first.MeanReward)} → {Markdown.Number(last.MeanReward)}" },
            new[] { "final KL to the SL-CAI policy", Markdown.Number(last.Kl, 4) },
            new[] { "final KL coefficient", Markdown.Number(last.KlCoefficient, 4) },
            new[] { "final clip fraction", Markdown.Number(last.ClipFraction) },
            new[] { "final entropy", Markdown.Number(last.Entropy) },
            new[] { "final mean response length (tokens)", Markdown.Number(last.MeanResponseLength, 1) },
            new[] { "time (sum over iterations)", Markdown.Duration(log.Sum(s => s.Seconds)) },
        };
        md.Append(Markdown.Table(["PPO", "value"], rows, new HashSet<int> { 1 })).AppendLine();
        double[] xs = [.. log.Select(s => (double)s.Iteration)];
        Charts.Curves(Path.Combine(folder, "ppo-reward.png"), "PPO: PM score and reward per iteration", "iteration", "mean per rollout",
            [("mean PM score", xs, [.. log.Select(s => s.MeanScore)]), ("mean reward (score - KL penalty)", xs, [.. log.Select(s => s.MeanReward)])]);
        Charts.Curves(Path.Combine(folder, "ppo-kl.png"), "PPO: KL to the initial policy per iteration", "iteration", "KL (nats)",
            [("KL", xs, [.. log.Select(s => s.Kl)])]);
        md.Append(Image("PPO reward per iteration", "ppo-reward.png")).AppendLine()
            .Append(Image("PPO KL per iteration", "ppo-kl.png")).AppendLine();
    }

    private static void RatesByGroup(StringBuilder md, RunData data)
    {
        md.AppendLine("## Rates by prompt group").AppendLine();
        if (data.Policies.Count == 0)
        {
            md.Append(Markdown.Missing($"no policy has been evaluated yet ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
            return;
        }

        md.AppendLine("Harmful prompts are grouped by the split of their harm category (demonstration categories appear in the constitution's demonstrations; dev and test ones never do); benign prompts form their own group.")
            .AppendLine();
        var metrics = data.Policies.SelectMany(p => p.Rates.Select(r => r.Metric)).Distinct()
            .OrderBy(m => ReportMetrics.Headline.Contains(m) ? ReportMetrics.Headline.ToList().IndexOf(m) : int.MaxValue)
            .ThenBy(m => m, StringComparer.Ordinal).ToList();
        foreach (var metric in metrics)
        {
            var groups = data.Policies.SelectMany(p => p.Rates.Where(r => r.Metric == metric).Select(r => r.Group)).Distinct()
                .OrderBy(g => ReportMetrics.Groups.Contains(g) ? ReportMetrics.Groups.ToList().IndexOf(g) : -1)
                .ThenBy(g => g, StringComparer.Ordinal).ToList();
            md.AppendLine($"### {HeadlineFigures.Title(metric)}").AppendLine();
            var rows = groups.Select(g => (IReadOnlyList<string>)[g, .. data.Policies.Select(p => Markdown.Rate(p.Get(metric, g)))]);
            md.Append(Markdown.Table(["group", .. data.Policies.Select(p => ReportMetrics.PolicyName(p.Policy))], rows,
                new HashSet<int>(Enumerable.Range(1, data.Policies.Count)))).AppendLine();
        }
    }

    private static void Transcripts(StringBuilder md, RunData data)
    {
        md.AppendLine("## Sample transcripts").AppendLine();
        md.AppendLine("### SL-CAI: critique and revision").AppendLine();
        if (data.Revisions is not { Count: > 0 } revisions)
        {
            md.Append(Markdown.Missing($"no SL-CAI records ({StageNote(data, CaiStages.SlCai)})")).AppendLine();
        }
        else
        {
            foreach (var item in ChooseRevisions(revisions, Samples))
            {
                md.AppendLine($"#### Prompt `{item.PromptId.Replace("`", "'", StringComparison.Ordinal)}`{(item.Kind is { } kind ? $" ({Markdown.Inline(kind)})" : "")}").AppendLine();
                md.Append(Markdown.Fenced(item.Prompt)).AppendLine();
                md.AppendLine("**Initial answer**").AppendLine().Append(Markdown.Fenced(item.InitialResponse)).AppendLine();
                for (int r = 0; r < item.Rounds.Count; r++)
                {
                    var round = item.Rounds[r];
                    md.AppendLine($"**Round {(r + 1).ToString(CultureInfo.InvariantCulture)}**, principle `{round.PrincipleId.Replace("`", "'", StringComparison.Ordinal)}`").AppendLine();
                    md.AppendLine("Critique:").AppendLine().Append(round.Critique is null ? "_(revised directly, no critique)_\n" : Markdown.Fenced(round.Critique)).AppendLine();
                    md.AppendLine("Revision:").AppendLine().Append(Markdown.Fenced(round.Revision)).AppendLine();
                }

                if (item.Rounds.Count == 0 || item.Rounds[^1].Revision != item.FinalResponse)
                    md.AppendLine("**Final answer (SFT target)**").AppendLine().Append(Markdown.Fenced(item.FinalResponse)).AppendLine();
            }
        }

        md.AppendLine("### RL-CAI versus SL-CAI on held-out harmful prompts").AppendLine();
        var sl = data.Policy("sl-cai");
        var rl = data.Policy("rl-cai");
        if (sl is null || rl is null)
        {
            md.Append(Markdown.Missing(rl is null
                ? $"no RL-CAI evaluation ({StageNote(data, CaiStages.Ppo)}; {StageNote(data, CaiStages.Evaluation)})"
                : $"no SL-CAI evaluation ({StageNote(data, CaiStages.Evaluation)})")).AppendLine();
            return;
        }

        var pairs = ChooseAnswerPairs(sl, rl, Samples);
        if (pairs.Count == 0)
        {
            md.Append(Markdown.Missing("the two policies share no answered harmful prompt")).AppendLine();
            return;
        }

        foreach (var (s, r) in pairs)
        {
            md.AppendLine($"#### Prompt `{s.PromptId.Replace("`", "'", StringComparison.Ordinal)}` ({Markdown.Inline(s.Group)})").AppendLine();
            md.Append(Markdown.Fenced(s.Prompt)).AppendLine();
            md.AppendLine($"**SL-CAI** (verdict: {Markdown.Inline(s.Verdict.Replace('_', ' '))})").AppendLine().Append(Markdown.Fenced(s.Response)).AppendLine();
            md.AppendLine($"**RL-CAI** (verdict: {Markdown.Inline(r.Verdict.Replace('_', ' '))})").AppendLine().Append(Markdown.Fenced(r.Response)).AppendLine();
        }
    }

    /// <summary>
    /// A deterministic choice of SL-CAI records to show: records with critique rounds first (harmful prompts before
    /// others), then in the order of a stable hash of the prompt id (so not always the first ids of the file).
    /// </summary>
    public static IReadOnlyList<RevisionItem> ChooseRevisions(IReadOnlyList<RevisionItem> revisions, int count) =>
    [
        .. revisions
            .OrderBy(r => r.Rounds.Count > 0 ? 0 : 1)
            .ThenBy(r => ReportMetrics.IsHarmfulKind(r.Kind) ? 0 : 1)
            .ThenBy(r => StableHash(r.PromptId))
            .ThenBy(r => r.PromptId, StringComparer.Ordinal)
            .Take(count),
    ];

    /// <summary>
    /// SL-CAI and RL-CAI answers to the same harmful prompts (test categories when there are any): prompts whose
    /// verdicts differ first, then by a stable hash of the prompt id.
    /// </summary>
    public static IReadOnlyList<(EvaluatedAnswer SlCai, EvaluatedAnswer RlCai)> ChooseAnswerPairs(PolicyEvaluationFile sl, PolicyEvaluationFile rl, int count)
    {
        ArgumentNullException.ThrowIfNull(sl);
        ArgumentNullException.ThrowIfNull(rl);
        var rlById = rl.Answers.Where(a => ReportMetrics.IsHarmfulKind(a.Kind))
            .GroupBy(a => a.PromptId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var pairs = sl.Answers.Where(a => ReportMetrics.IsHarmfulKind(a.Kind))
            .DistinctBy(a => a.PromptId)
            .Where(a => rlById.ContainsKey(a.PromptId))
            .Select(a => (SlCai: a, RlCai: rlById[a.PromptId]))
            .ToList();
        if (pairs.Any(p => p.SlCai.Group == "test")) pairs = [.. pairs.Where(p => p.SlCai.Group == "test")];
        return
        [
            .. pairs.OrderBy(p => p.SlCai.Verdict != p.RlCai.Verdict ? 0 : 1)
                .ThenBy(p => StableHash(p.SlCai.PromptId))
                .ThenBy(p => p.SlCai.PromptId, StringComparer.Ordinal)
                .Take(count),
        ];
    }

    /// <summary>FNV-1a of the UTF-16 code units: the same on every machine and run (unlike string.GetHashCode).</summary>
    public static uint StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 16777619;
        }

        return hash;
    }

    private static void Timings(StringBuilder md, RunData data)
    {
        md.AppendLine("## Stage timings").AppendLine();
        if (data.State?.Stages is not { Count: > 0 } stages)
        {
            md.Append(Markdown.Missing("no run state (state.json)")).AppendLine();
            return;
        }

        var rows = stages.Select(s => (IReadOnlyList<string>)
        [
            s.Name, s.Status.ToString().ToLowerInvariant(),
            s.TotalItems > 0 ? $"{s.DoneItems.ToString(CultureInfo.InvariantCulture)}/{s.TotalItems.ToString(CultureInfo.InvariantCulture)}" : s.DoneItems.ToString(CultureInfo.InvariantCulture),
            s.Seconds.ToString("F1", CultureInfo.InvariantCulture), Markdown.Duration(s.Seconds),
        ]).ToList();
        double total = stages.Sum(s => s.Seconds);
        rows.Add(["**total**", data.State.Status.ToString().ToLowerInvariant(), "", $"**{total.ToString("F1", CultureInfo.InvariantCulture)}**", $"**{Markdown.Duration(total)}**"]);
        md.Append(Markdown.Table(["stage", "status", "items", "seconds", "time"], rows, new HashSet<int> { 2, 3, 4 })).AppendLine();
        double wall = (data.State.UpdatedUtc - data.State.CreatedUtc).TotalSeconds;
        if (wall > 0) md.AppendLine($"Wall clock from creation to the last update: {Markdown.Duration(wall)} (includes waits and restarts).").AppendLine();
    }
}
