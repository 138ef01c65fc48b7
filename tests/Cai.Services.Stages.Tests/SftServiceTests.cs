using System.Text.Json;
using Cai.Inference;
using Cai.Modeling;
using Cai.Protos.V1;
using Cai.Services.Sft;
using Cai.Services.Sft.Grpc;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using SftClient = Cai.Protos.V1.Sft.SftClient;

namespace Cai.Services.Stages.Tests;

public sealed class SftServiceTests(ModelFixture models) : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private StageServer _server = null!;
    private SftClient Client => new(_server.Channel);

    public async Task InitializeAsync() => _server = await StageServer.StartAsync(b => b.AddSft(), a => a.MapGrpcService<SftService>(), models.Settings());

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>A data file of revision records (the critique worker's output) and helpful samples.</summary>
    private string WriteData(int revisions, int helpful)
    {
        var path = Path.Combine(models.Root, $"sft-data-{Guid.NewGuid():N}.jsonl");
        var lines = new List<string>();
        for (int i = 0; i < revisions; i++)
            lines.Add(JsonSerializer.Serialize(new RevisionItem($"r{i}", $"How do I hurt person {i}?", "harmful", "Like this.",
                [new RevisionRound("harm-overall", "That is harmful.", "I will not help hurt anyone.")], $"I will not help hurt person {i}."), JsonSerializerOptions.Web));
        for (int i = 0; i < helpful; i++)
            lines.Add(JsonSerializer.Serialize(new { prompt = $"What is {i} plus 1?", response = $"It is {i + 1}.", kind = "helpful" }));
        File.WriteAllLines(path, lines);
        return path;
    }

    private SftTrainRequest Request(string data, string output, int batchSize = 4) => new()
    {
        BaseModel = "policy",
        OutputDir = output,
        DataFiles = { data },
        HelpfulRatio = 0.5,
        Epochs = 1,
        BatchSize = batchSize,
        LearningRate = 1e-3,
        WarmupSteps = 1,
        CheckpointEvery = 2,
        Seed = 3,
    };

    [Fact]
    public async Task TrainStreamsProgressThenAResultWhoseModelLoads()
    {
        using var call = Client.Train(Request(WriteData(revisions: 8, helpful: 8), "sft-out"), deadline: TestPaths.Deadline(300));
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();

        var progress = responses.TakeWhile(r => r.KindCase == SftTrainResponse.KindOneofCase.Progress).Select(r => r.Progress).ToList();
        Assert.Equal(responses.Count - 1, progress.Count);
        var result = responses[^1].Result;
        Assert.NotNull(result);
        // 8 revisions + round(8 x 0.5) helpful samples, batches of 4: 3 steps.
        Assert.Equal(12, result.Examples);
        Assert.Equal(3, result.Steps);
        Assert.Equal(Enumerable.Range(1, 3).Select(i => (long)i), progress.Select(p => p.Step));
        Assert.All(progress, p => Assert.True(double.IsFinite(p.Metrics["loss"]) && p.TotalSteps == 3));
        Assert.True(double.IsFinite(result.FinalLoss));
        using var model = Checkpoint.LoadCausalLM(result.ModelPath);
        Assert.Equal(TinyModel.VocabSize, model.Config.VocabSize);
        Assert.True(File.Exists(Path.Combine(result.ModelPath, "tokenizer.json")));
    }

    [Fact]
    public async Task ASecondConcurrentJobIsRefusedAsResourceExhausted()
    {
        // Hold the replica's job slot with a job that waits for the test: no race with a fast real job.
        var jobs = _server.Services.GetRequiredService<TrainingJobs>();
        var release = new TaskCompletionSource();
        var busy = jobs.RunAsync<int, int>(_ => { release.Task.Wait(); return 0; }, _ => Task.CompletedTask, CancellationToken.None);
        Assert.True(jobs.Busy);

        using (var second = Client.Train(Request(WriteData(revisions: 4, helpful: 0), "sft-second"), deadline: TestPaths.Deadline()))
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => second.ResponseStream.ReadAllAsync().ToListAsync().AsTask());
            Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        }

        release.SetResult();
        await busy;
        // Once the slot is free, a real job runs to its result.
        using var after = Client.Train(Request(WriteData(revisions: 4, helpful: 0), "sft-after"), deadline: TestPaths.Deadline(300));
        var responses = await after.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.Equal(SftTrainResponse.KindOneofCase.Result, responses[^1].KindCase);
    }

    [Fact]
    public async Task InvalidFieldsAreRefusedNamingTheField()
    {
        var data = WriteData(2, 0);
        async Task Train(SftTrainRequest r)
        {
            using var call = Client.Train(r, deadline: TestPaths.Deadline());
            await call.ResponseStream.ReadAllAsync().ToListAsync();
        }
        var noModel = Request(data, "x");
        noModel.BaseModel = "";
        await TestPaths.AssertInvalidArgument(() => Train(noModel), "base_model");
        var negativeEpochs = Request(data, "x");
        negativeEpochs.Epochs = -1;
        await TestPaths.AssertInvalidArgument(() => Train(negativeEpochs), "epochs");
        var noData = Request(data, "x");
        noData.DataFiles.Clear();
        await TestPaths.AssertInvalidArgument(() => Train(noData), "run_id");
        var badLine = Path.Combine(models.Root, "bad.jsonl");
        File.WriteAllText(badLine, "{\"prompt\": \"hi\"}\n");
        var malformed = Request(badLine, "x");
        var ex = await TestPaths.AssertInvalidArgument(() => Train(malformed), "data_files[0]");
        Assert.Contains("bad.jsonl:1", ex.Status.Detail);
    }
}
