using Cai.Core.Configuration;
using Cai.Inference;
using Cai.Pipeline;

namespace Cai.Pipeline.Tests;

/// <summary>A tiny whole run in this process (the committed default model, a few prompts per stage), shared by the tests.</summary>
public sealed class TinyRunFixture : IAsyncLifetime
{
    public static readonly string Repository = Cai.Testing.RepositoryRoot.Path;

    public static readonly KeyValuePair<string, string>[] TinySizes =
    [
        new("SlCai:RedTeamPrompts", "6"), new("SlCai:HelpfulPrompts", "4"), new("SlCai:Rounds", "1"), new("SlCai:MaxNewTokens", "16"),
        new("SlCai:BatchSize", "8"), new("SlCai:SftBatchSize", "4"),
        new("Labels:Pairs", "6"), new("Labels:MaxNewTokens", "12"), new("Labels:PrinciplesPerComparison", "1"),
        new("PreferenceModel:HelpfulComparisons", "6"), new("PreferenceModel:EvaluationLimit", "8"), new("PreferenceModel:BatchSize", "4"),
        new("Ppo:Iterations", "2"), new("Ppo:PromptsPerIteration", "4"), new("Ppo:MaxNewTokens", "8"),
        new("Evaluation:HarmfulPrompts", "6"), new("Evaluation:BenignPrompts", "6"), new("Evaluation:MaxNewTokens", "12"),
        new("Evaluation:LabelPairs", "4"), new("Evaluation:EnsemblePrinciples", "2"),
    ];

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-pipeline-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public RunState State { get; private set; } = null!;

    public string RunDir => Path.Combine(Root, "tiny");

    public static RunContext Context(string root, string runId, params KeyValuePair<string, string>[] more)
    {
        var configuration = RunConfiguration.Create("smoke", [.. TinySizes, .. more]) with { ArtifactsRoot = root };
        var folder = RunFolder.CreateOrOpen(root, runId, configuration, Repository, [configuration.Models.Policy]);
        return new RunContext(folder, Repository);
    }

    public static async Task<RunState> RunAsync(string root, string runId, CancellationToken cancellationToken = default,
        params KeyValuePair<string, string>[] more)
    {
        using var executor = new InProcessExecutor(threads: 2, batchSize: 8);
        var run = new CaiRun(Context(root, runId, more), executor, new FileRunStateStore(root),
            (dir, _) => Task.FromResult(Path.Combine(dir, RunLayout.ReportFile)));
        return await run.RunAsync(cancellationToken);
    }

    public async Task InitializeAsync() => State = await RunAsync(Root, "tiny");

    public Task DisposeAsync()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

public sealed class InProcessRunTests(TinyRunFixture fixture) : IClassFixture<TinyRunFixture>
{
    [Fact]
    public void Every_stage_finishes_and_writes_its_artifacts()
    {
        var state = fixture.State;
        Assert.True(state.Status == RunStatus.Done, state.Message);
        Assert.All(state.Stages, s => Assert.Equal(RunStatus.Done, s.Status));
        Assert.Equal(10, JsonlItems<PromptItem>.Read(Path.Combine(fixture.RunDir, RunLayout.Prompts), p => p.Id).Count);
        var revisions = JsonlItems<RevisionItem>.Read(Path.Combine(fixture.RunDir, RunLayout.Revisions), r => r.PromptId);
        Assert.Equal(10, revisions.Count);
        // Red-team prompts went through one critique/revision round; helpful ones are answered as they are.
        Assert.All(revisions.Where(r => r.Kind == CaiRun.RedTeamKind), r => Assert.Single(r.Rounds));
        Assert.All(revisions.Where(r => r.Kind == CaiRun.HelpfulKind), r => Assert.Empty(r.Rounds));
        Assert.Equal(6, JsonlItems<ComparisonItem>.Read(Path.Combine(fixture.RunDir, RunLayout.Comparisons), c => c.Id).Count);
        Assert.All(JsonlItems<ComparisonItem>.Read(Path.Combine(fixture.RunDir, RunLayout.Comparisons), c => c.Id),
            c => Assert.Equal(1.0, c.Probabilities.Sum(), 6));
        foreach (var stage in new[] { CaiStages.Sft, CaiStages.PreferenceModel, CaiStages.Ppo })
        {
            string model = Path.Combine(fixture.RunDir, state.Stage(stage).Artifacts!["model"]);
            Assert.True(File.Exists(Path.Combine(model, "config.json")), $"{stage}: no model in {model}");
        }
        Assert.Equal(2, File.ReadAllLines(Path.Combine(fixture.RunDir, RunLayout.PpoLog)).Length);
    }

    [Fact]
    public void The_evaluation_measures_each_policy_with_the_oracle_and_the_pm()
    {
        foreach (var policy in RunLayout.Policies)
        {
            var file = RunLayout.ReadJson<PolicyEvaluationFile>(Path.Combine(fixture.RunDir, RunLayout.PolicyEvaluation(policy)));
            Assert.Equal(12, file.Answers.Count);
            Assert.All(file.Answers, a => Assert.NotNull(a.PmScore));
            var harmless = file.Get("harmlessness");
            Assert.NotNull(harmless);
            Assert.Equal(6, harmless!.Total);
            Assert.Equal(file.Answers.Count(a => a.Verdict == "harmless_and_engaged"), harmless.Count);
        }
        var pm = RunLayout.ReadJson<PmEvaluationFile>(Path.Combine(fixture.RunDir, RunLayout.PmEvaluation));
        if (File.Exists(Path.Combine(TinyRunFixture.Repository, "../shared/data/hh-rlhf/harmless-base-test.jsonl.gz")))
            Assert.Contains(pm.Datasets, d => d.Name.Contains("harmless-base-test") && d.Count == 8);
        var labels = RunLayout.ReadJson<FeedbackEvaluationFile>(Path.Combine(fixture.RunDir, RunLayout.FeedbackEvaluation));
        Assert.Equal(8, labels.PairsExamined);
        Assert.InRange(labels.DecisivePairs, 0, 4);
        if (labels.DecisivePairs > 0)
            Assert.Equal(["one-principle", "ensemble", "chain-of-thought", "preference-model"], labels.Judges.Select(j => j.Judge));
    }

    [Fact]
    public async Task Running_a_finished_run_again_redoes_nothing()
    {
        var before = File.ReadAllText(Path.Combine(fixture.RunDir, RunLayout.Revisions));
        var again = await TinyRunFixture.RunAsync(fixture.Root, "tiny");
        Assert.Equal(RunStatus.Done, again.Status);
        Assert.Equal(before, File.ReadAllText(Path.Combine(fixture.RunDir, RunLayout.Revisions)));
        Assert.Equal(fixture.State.Stages.Select(s => s.FinishedUtc), again.Stages.Select(s => s.FinishedUtc));
    }

    [Fact]
    public async Task A_run_cancelled_mid_stage_resumes_with_every_item_once()
    {
        string root = Path.Combine(fixture.Root, "cancelled");
        // Two prompts per model call, so SL-CAI takes several calls; the run is cancelled at its first critique record.
        var small = new KeyValuePair<string, string>("SlCai:BatchSize", "2");
        using var cts = new CancellationTokenSource();
        using (var executor = new CancelAtFirstRevision(new InProcessExecutor(threads: 2, batchSize: 8), cts))
        {
            var run = new CaiRun(TinyRunFixture.Context(root, "cut", small), executor, new FileRunStateStore(root));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.RunAsync(cts.Token));
        }
        var cut = RunLayout.ReadJson<RunState>(Path.Combine(root, "cut", RunLayout.StateFile));
        Assert.Equal(RunStatus.Pending, cut.Status);
        Assert.NotEqual(RunStatus.Done, cut.Stage(CaiStages.SlCai).Status);
        int written = JsonlItems<RevisionItem>.Read(Path.Combine(root, "cut", RunLayout.Revisions), r => r.PromptId).Count;
        Assert.InRange(written, 1, 9);

        var resumed = await TinyRunFixture.RunAsync(root, "cut", default, small);
        Assert.Equal(RunStatus.Done, resumed.Status);
        var lines = File.ReadAllLines(Path.Combine(root, "cut", RunLayout.Revisions));
        var ids = JsonlItems<RevisionItem>.Read(Path.Combine(root, "cut", RunLayout.Revisions), r => r.PromptId).Select(r => r.PromptId).ToList();
        Assert.Equal(10, lines.Length);
        Assert.Equal(10, ids.Distinct().Count());
        Assert.Equal(File.ReadAllLines(Path.Combine(fixture.RunDir, RunLayout.Prompts)).Length, ids.Count);
    }
}

/// <summary>The real in-process executor, cancelling the run as soon as SL-CAI's first critique/revision record arrives.</summary>
internal sealed class CancelAtFirstRevision(InProcessExecutor inner, CancellationTokenSource cancel) : IStageExecutor, IDisposable
{
    public Cai.Inference.ILanguageModel Model(string path) => inner.Model(path);

    public Task CritiqueReviseAsync(RunContext run, IReadOnlyList<PromptItem> prompts, Func<RevisionItem, Task> onRecord, CancellationToken cancellationToken) =>
        inner.CritiqueReviseAsync(run, prompts, async record =>
        {
            await onRecord(record);
            cancel.Cancel();
        }, cancellationToken);

    public Task LabelAsync(RunContext run, IReadOnlyList<PairItem> pairs, Func<ComparisonItem, Task> onLabel, CancellationToken cancellationToken) =>
        inner.LabelAsync(run, pairs, onLabel, cancellationToken);

    public Task<string> TrainSftAsync(SftJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        inner.TrainSftAsync(job, progress, cancellationToken);

    public Task<string> TrainPreferenceModelAsync(PmJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        inner.TrainPreferenceModelAsync(job, progress, cancellationToken);

    public Task<string> TrainPpoAsync(PpoJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        inner.TrainPpoAsync(job, progress, cancellationToken);

    public Task<IReadOnlyList<float>> ScoreAsync(string preferenceModel, IReadOnlyList<string> dialogues, CancellationToken cancellationToken) =>
        inner.ScoreAsync(preferenceModel, dialogues, cancellationToken);

    public void Dispose() => inner.Dispose();
}
