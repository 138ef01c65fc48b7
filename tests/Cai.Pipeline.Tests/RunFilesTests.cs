using Cai.Core.Configuration;
using Cai.Inference;
using Cai.Pipeline;

namespace Cai.Pipeline.Tests;

public sealed class RunFilesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cai-runfiles-" + Guid.NewGuid().ToString("N")[..8]);

    public RunFilesTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Jsonl_items_keep_one_record_per_id_and_drop_a_torn_last_line()
    {
        string path = Path.Combine(_dir, "items.jsonl");
        using (var items = JsonlItems<PromptItem>.Open(path, p => p.Id))
        {
            Assert.True(items.Append(new PromptItem("a", "first")));
            Assert.True(items.Append(new PromptItem("b", "second")));
            Assert.False(items.Append(new PromptItem("a", "again")));
        }
        File.AppendAllText(path, "{\"id\":\"c\",\"prom");   // a writer killed mid-line
        using (var items = JsonlItems<PromptItem>.Open(path, p => p.Id))
        {
            Assert.Equal(["a", "b"], items.Items.Select(i => i.Id));
            Assert.Equal("first", items.Items[0].Prompt);
            Assert.True(items.Append(new PromptItem("c", "third")));
        }
        Assert.Equal(3, File.ReadAllLines(path).Length);
        Assert.Equal("{\"id\":\"a\",\"prompt\":\"first\",\"kind\":null}", File.ReadAllLines(path)[0]);
    }

    [Fact]
    public void A_malformed_complete_line_is_refused_with_file_and_line()
    {
        string path = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(path, "{\"id\":\"a\",\"prompt\":\"x\"}\nnot json\n");
        var e = Assert.Throws<InvalidDataException>(() => JsonlItems<PromptItem>.Open(path, p => p.Id));
        Assert.Contains("bad.jsonl:2", e.Message);
    }

    [Fact]
    public async Task The_state_file_round_trips()
    {
        var store = new FileRunStateStore(_dir);
        var state = CaiRun.InitialState("r1").With(new StageState(CaiStages.Sft, RunStatus.Done, 5, 5, Artifacts: new Dictionary<string, string> { ["model"] = "sft/final" }));
        await store.SaveAsync(state, default);
        var back = await store.LoadAsync("r1", default);
        Assert.NotNull(back);
        Assert.Equal(RunStatus.Done, back!.Stage(CaiStages.Sft).Status);
        Assert.Equal("sft/final", back.Stage(CaiStages.Sft).Artifacts!["model"]);
        Assert.Contains("\"status\": \"done\"", File.ReadAllText(store.PathOf("r1")));
        Assert.Null(await store.LoadAsync("missing", default));
    }

    [Fact]
    public void Overrides_change_one_key_each_with_its_type_and_name_bad_keys()
    {
        var c = RunConfiguration.Create("smoke", [new("Ppo:Iterations", "7"), new("labels:chainofthought", "true"), new("Ppo:KlCoefficient", "0.5"),
            new("PreferenceModel:EvaluationFiles", "a.jsonl,b.jsonl"), new("Replicas:critique", "3")]);
        Assert.Equal(7, c.Ppo.Iterations);
        Assert.True(c.Labels.ChainOfThought);
        Assert.Equal(0.5, c.Ppo.KlCoefficient);
        Assert.Equal(["a.jsonl", "b.jsonl"], c.PreferenceModel.EvaluationFiles);
        Assert.Equal(3, c.Replicas["critique"]);
        Assert.Equal(RunConfiguration.Smoke.SlCai, c.SlCai);
        Assert.Contains("Ppo:Iteration", Assert.Throws<FormatException>(() => RunConfiguration.Create("smoke", [new("Ppo:Iteration", "7")])).Message);
        Assert.Contains("not a number", Assert.Throws<FormatException>(() => RunConfiguration.Create("smoke", [new("Ppo:Iterations", "many")])).Message);
        Assert.Throws<FileNotFoundException>(() => RunConfiguration.Create("no-such-profile.json"));
    }

    [Fact]
    public async Task A_failing_stage_marks_the_run_failed_with_the_reason()
    {
        var configuration = RunConfiguration.Create("smoke", [.. TinyRunFixture.TinySizes, new("ConstitutionPath", "constitutions/missing.yaml")])
            with { ArtifactsRoot = _dir };
        var folder = RunFolder.CreateOrOpen(_dir, "broken", configuration, TinyRunFixture.Repository, [configuration.Models.Policy]);
        using var executor = new InProcessExecutor(threads: 2, batchSize: 8);
        var state = await new CaiRun(new RunContext(folder, TinyRunFixture.Repository), executor, new FileRunStateStore(_dir)).RunAsync();
        Assert.Equal(RunStatus.Failed, state.Status);
        Assert.Equal(RunStatus.Done, state.Stage(CaiStages.Prompts).Status);
        Assert.Equal(RunStatus.Failed, state.Stage(CaiStages.SlCai).Status);
        Assert.Contains("missing.yaml", state.Message);
    }
}
