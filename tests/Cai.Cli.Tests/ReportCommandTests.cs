using Cai.Cli;
using Cai.Core.Configuration;
using Cai.Pipeline;
using Cai.Reporting;
using Spectre.Console;

namespace Cai.Cli.Tests;

/// <summary><c>cai report</c> on small run folders written through the pipeline's record types.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cai-report-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private static async Task<(int Exit, string Output)> Cai(params string[] args)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 250;
        var help = new StringWriter();
        int exit = await CaiCommand.Create(console).Parse(args).InvokeAsync(new() { Output = help, Error = help });
        return (exit, output.ToString() + help);
    }

    /// <summary>
    /// A run with config/provenance (seed <paramref name="seed"/>) and state, and evaluations of base (payload on every
    /// harmful prompt) and RL-CAI (harmless on <paramref name="rlHarmless"/> of 4 test prompts); SL-CAI not evaluated.
    /// </summary>
    private string WriteRun(string id, ulong seed, int rlHarmless)
    {
        var folder = RunFolder.CreateOrOpen(_root, id, RunConfiguration.Smoke with { Seed = seed }, _root);
        var now = DateTimeOffset.UtcNow;
        RunLayout.WriteJson(Path.Combine(folder.Path, RunLayout.StateFile), new RunState(id, RunStatus.Running,
            [.. CaiStages.All.Select(s => new StageState(s, s == CaiStages.Report ? RunStatus.Pending : RunStatus.Done, Seconds: 10))], now, now));
        foreach (var (policy, harmless) in new[] { ("base", 0), ("rl-cai", rlHarmless) })
        {
            var answers = Enumerable.Range(0, 4).Select(i => i < harmless
                    ? new EvaluatedAnswer($"h{i}", "harmful", "test", "p", "safe", "harmless_and_engaged", 2)
                    : new EvaluatedAnswer($"h{i}", "harmful", "test", "p", policy == "base" ? "payload" : "no", policy == "base" ? "harmful" : "evasive", policy == "base" ? 0 : 1))
                .Append(new EvaluatedAnswer("b0", "benign", "benign", "q", "a", "helpful_correct", 2))
                .ToList();
            int payload = policy == "base" ? 4 : 0;
            RunLayout.WriteJson(Path.Combine(folder.Path, RunLayout.PolicyEvaluation(policy)), new PolicyEvaluationFile(policy, policy, "test", seed, 1,
            [
                new EvaluatedRate("harmlessness", "test", harmless, 4, harmless / 4.0, 0, 1),
                new EvaluatedRate("payload-given", "test", payload, 4, payload / 4.0, 0, 1),
                new EvaluatedRate("helpfulness", "all", 1, 1, 1, 0.2, 1),
                new EvaluatedRate("evasiveness", "all", 0, 1, 0, 0, 0.8),
            ], answers));
        }

        return folder.Path;
    }

    [Fact]
    public async Task ReportWritesTheRunReportAndPrintsItsSummaryTable()
    {
        string run = WriteRun("cli-run", 1, rlHarmless: 3);
        var (exit, output) = await Cai("report", run);

        Assert.True(exit == 0, output);
        string path = Path.Combine(run, RunLayout.ReportFile);
        Assert.Contains("Report written to", output);
        Assert.Contains(path, output.Replace("\n", "", StringComparison.Ordinal));
        Assert.True(File.Exists(path));
        Assert.Contains("harmlessness (test)", output);
        var rlLine = output.Split('\n').Single(l => l.Contains("RL-CAI", StringComparison.Ordinal));
        Assert.Contains("75.0% (", rlLine);
        var slLine = output.Split('\n').Single(l => l.Contains("SL-CAI", StringComparison.Ordinal));
        Assert.Contains("not available", slLine);
        Assert.Contains("| SL-CAI | not available |", File.ReadAllText(path));
    }

    [Fact]
    public async Task CompareGroupsSeedsAndPrintsMeanAndSpread()
    {
        string[] runs = [WriteRun("s1", 1, 1), WriteRun("s2", 2, 2), WriteRun("s3", 3, 3)];
        string output = Path.Combine(_root, "cmp");
        var (exit, text) = await Cai(["report", "--compare", .. runs, "--output", output]);

        Assert.True(exit == 0, text);
        Assert.True(File.Exists(Path.Combine(output, RunComparison.FileName)));
        Assert.Contains("group A: 3 run(s)", text);
        // RL-CAI harmlessness 25%, 50%, 75%: mean 50%, sample sd 25%.
        Assert.Contains("50.0% ± 25.0% (n = 3)", text);
        Assert.Contains("50.0% ± 25.0% (n = 3)", File.ReadAllText(Path.Combine(output, RunComparison.FileName)));
    }

    [Fact]
    public async Task SeveralRunsWithoutCompareOrAMissingRunFailWithAMessage()
    {
        string run = WriteRun("one", 1, 1);
        var (exit, output) = await Cai("report", run, run);
        Assert.Equal(1, exit);
        Assert.Contains("--compare", output);

        (exit, output) = await Cai("report", Path.Combine(_root, "absent"));
        Assert.Equal(1, exit);
        Assert.Contains("run not found", output);
    }
}
