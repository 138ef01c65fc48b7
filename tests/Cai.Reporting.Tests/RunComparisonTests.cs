using System.Text.Json.Nodes;
using Cai.Core.Configuration;

namespace Cai.Reporting.Tests;

public sealed class RunComparisonTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Three seeds of one configuration (RL-CAI harmless on 5, 6 and 8 of 10 test prompts) and one run of another.</summary>
    private string[] FourRuns() =>
    [
        new SyntheticRun { Seed = 1, RlHarmless = 5 }.Write(_temp.Path, "seed-1"),
        new SyntheticRun { Seed = 2, RlHarmless = 6 }.Write(_temp.Path, "seed-2"),
        new SyntheticRun { Seed = 3, RlHarmless = 8 }.Write(_temp.Path, "seed-3"),
        new SyntheticRun { Seed = 1, RlHarmless = 9, PpoIterations = 5 }.Write(_temp.Path, "longer-ppo"),
    ];

    [Fact]
    public void RunsAreGroupedByConfigurationWithoutTheSeed()
    {
        var result = RunComparison.Compare(FourRuns());
        Assert.Equal(2, result.Groups.Count);
        var a = result.Groups[0];
        var b = result.Groups[1];
        Assert.Equal("A", a.Label);
        Assert.Equal(["seed-1", "seed-2", "seed-3"], a.Runs.Select(r => r.RunId));
        Assert.Equal([1UL, 2UL, 3UL], a.Runs.Select(r => r.Seed!.Value));
        Assert.Equal(["longer-ppo"], b.Runs.Select(r => r.RunId));
        // Only the setting that differs between the groups is shown; the seed is not one.
        Assert.Equal(["Ppo:Iterations"], a.Settings.Keys);
        Assert.Equal("2", a.Settings["Ppo:Iterations"]);
        Assert.Equal("5", b.Settings["Ppo:Iterations"]);
    }

    [Fact]
    public void GroupStatisticsAreTheMeanAndSampleStandardDeviationOverSeeds()
    {
        var a = RunComparison.Compare(FourRuns()).Groups[0];
        var rl = a.Get("rl-cai", ReportMetrics.Harmlessness)!;
        Assert.Equal(3, rl.N);
        Assert.Equal((0.5 + 0.6 + 0.8) / 3, rl.Mean, 12);
        double mean = (0.5 + 0.6 + 0.8) / 3;
        double sd = Math.Sqrt((Math.Pow(0.5 - mean, 2) + Math.Pow(0.6 - mean, 2) + Math.Pow(0.8 - mean, 2)) / 2);
        Assert.Equal(sd, rl.StandardDeviation, 12);
        Assert.Equal(0.15275, rl.StandardDeviation, 5);

        var sl = a.Get("sl-cai", ReportMetrics.Harmlessness)!;
        Assert.Equal((3, 0.3, 0.0), (sl.N, Math.Round(sl.Mean, 12), Math.Round(sl.StandardDeviation, 12)));
        var baseElo = a.Get("base", HeadlineFigures.HarmlessnessElo)!;
        Assert.Equal((0.0, 0.0), (baseElo.Mean, baseElo.StandardDeviation));
        Assert.True(a.Get("rl-cai", HeadlineFigures.HarmlessnessElo)!.Mean > 0);
    }

    [Fact]
    public void TheComparisonReportShowsRunsSideBySideAndMeanAndSpread()
    {
        string output = Path.Combine(_temp.Path, "comparison-out");
        string path = RunComparison.Write(FourRuns(), output);
        Assert.Equal(Path.Combine(output, RunComparison.FileName), path);
        string md = File.ReadAllText(path);

        Assert.StartsWith("# Comparison of 4 runs", md);
        var groupA = RunReportTests.Row(md, "### Group A (n = 3)", "RL-CAI");
        Assert.Equal("63.3% ± 15.3% (n = 3)", groupA[1]);
        Assert.Equal("0.0% ± 0.0% (n = 3)", groupA[2]);
        var groupB = RunReportTests.Row(md, "### Group B (n = 1)", "RL-CAI");
        Assert.Equal("90.0% (n = 1)", groupB[1]);
        Assert.Contains("_Fewer than 3 seeds", md[md.IndexOf("### Group B", StringComparison.Ordinal)..]);
        Assert.DoesNotContain("_Fewer than 3 seeds", md[md.IndexOf("### Group A", StringComparison.Ordinal)..md.IndexOf("### Group B", StringComparison.Ordinal)]);

        var side = RunReportTests.Row(md, "### RL-CAI", "seed-2");
        Assert.Equal(["seed-2", "A", "2", "60.0%"], side[..4]);
        var configB = RunReportTests.Row(md, "## Configurations", "B");
        Assert.Equal(("1", "1", "Ppo:Iterations = 5"), (configB[1], configB[2], configB[3]));

        RunReportTests.AssertPng(Path.Combine(output, RunComparison.ChartFileName));
        Assert.Contains($"]({RunComparison.ChartFileName})", md);
    }

    [Fact]
    public void AnUnevaluatedRunIsShownAsNotAvailableWithoutFailing()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_temp.Path, "not-started")).FullName;
        string evaluated = new SyntheticRun().Write(_temp.Path, "evaluated");
        string md = File.ReadAllText(RunComparison.Write([evaluated, empty], Path.Combine(_temp.Path, "out")));
        Assert.Equal(["not-started", "B", "?", "not available"], RunReportTests.Row(md, "### RL-CAI", "not-started")[..4]);
        Assert.Contains("_Not available: no run of this group has been evaluated._", md);
    }

    [Fact]
    public void MeanAndStandardDeviationUseTheSampleFormula()
    {
        var (mean, sd) = RunComparison.MeanAndStandardDeviation([2, 4, 4, 4, 5, 5, 7, 9]);
        Assert.Equal(5, mean, 12);
        Assert.Equal(Math.Sqrt(32.0 / 7), sd, 12);
        Assert.True(double.IsNaN(RunComparison.MeanAndStandardDeviation([3]).StandardDeviation));
    }

    [Fact]
    public void TheComparisonKeyIgnoresSeedAndKeyOrderButNotOtherSettings()
    {
        var one = JsonNode.Parse(RunConfiguration.Smoke.ToJson())!.AsObject();
        var otherSeed = JsonNode.Parse((RunConfiguration.Smoke with { Seed = 42, ArtifactsRoot = "elsewhere" }).ToJson())!.AsObject();
        var reordered = new JsonObject(one.Reverse().Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        var ablation = JsonNode.Parse((RunConfiguration.Smoke with { Labels = RunConfiguration.Smoke.Labels with { PrinciplesPerComparison = 4 } }).ToJson())!.AsObject();
        Assert.Equal(ComparisonKey.Key(one), ComparisonKey.Key(otherSeed));
        Assert.Equal(ComparisonKey.Key(one), ComparisonKey.Key(reordered));
        Assert.NotEqual(ComparisonKey.Key(one), ComparisonKey.Key(ablation));
        Assert.Equal(42UL, ComparisonKey.Seed(otherSeed));
        Assert.DoesNotContain(ComparisonKey.Flatten(one).Keys, k => k.Equals("seed", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("4", ComparisonKey.Flatten(ablation)["Labels:PrinciplesPerComparison"]);
    }
}
