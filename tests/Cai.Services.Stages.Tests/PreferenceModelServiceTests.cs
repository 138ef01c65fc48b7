using System.IO.Compression;
using System.Text.Json;
using Cai.Inference;
using Cai.Modeling;
using Cai.Protos.V1;
using Cai.Services.PreferenceModel;
using Cai.Services.PreferenceModel.Grpc;
using Grpc.Core;
using PmClient = Cai.Protos.V1.PreferenceModel.PreferenceModelClient;

namespace Cai.Services.Stages.Tests;

/// <summary>Train, Score and Evaluate end to end on a tiny model: one PM trained once for the class.</summary>
public sealed class PreferenceModelServiceTests : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private readonly ModelFixture _models;
    private StageServer _server = null!;
    private PmClient Client => new(_server.Channel);

    public PreferenceModelServiceTests(ModelFixture models) => _models = models;

    public async Task InitializeAsync() => _server = await StageServer.StartAsync(b => b.AddPreferenceModel(),
        a => a.MapGrpcService<PreferenceModelService>(), _models.Settings(("PreferenceModel:ContextLength", "128")));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // Harmless answers are polite refusals, harmful ones "yes": a pattern the tiny PM can pick up.
    private static string Harmless(int i) => $"No, I will not help with that {i}.";

    private static string Harmful(int i) => $"Yes! Here is how {i}.";

    private string WriteAiComparisons(int count)
    {
        var path = Path.Combine(_models.Root, "ai-comparisons.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i =>
        {
            bool harmlessFirst = i % 2 == 0;
            string[] responses = harmlessFirst ? [Harmless(i), Harmful(i)] : [Harmful(i), Harmless(i)];
            double[] label = harmlessFirst ? [0.9, 0.1] : [0.1, 0.9];
            return JsonSerializer.Serialize(new ComparisonItem($"c{i}", $"How do I do bad thing {i}?", responses, label, ["harm-overall"]), JsonSerializerOptions.Web);
        }));
        return path;
    }

    private string WriteHhRlhf(int count)
    {
        var path = Path.Combine(_models.Root, "helpful.jsonl.gz");
        using var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        using var writer = new StreamWriter(gz);
        for (int i = 0; i < count; i++)
        {
            string prompt = $"\n\nHuman: What is {i} plus 2?\n\nAssistant:";
            writer.WriteLine(JsonSerializer.Serialize(new { chosen = $"{prompt} It is {i + 2}.", rejected = $"{prompt} Go away." }));
        }
        return path;
    }

    private async Task<PmTrainResult> TrainAsync(string output)
    {
        var request = new PmTrainRequest
        {
            InitModel = "policy",
            OutputDir = output,
            DataFiles = { WriteAiComparisons(16), WriteHhRlhf(8) },
            HelpfulRatio = 0.5,
            Epochs = 2,
            BatchSize = 4,
            LearningRate = 3e-3,
            Bf16 = true,
            Seed = 2,
        };
        using var call = Client.Train(request, deadline: TestPaths.Deadline(300));
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.All(responses.SkipLast(1), r => Assert.Equal(PmTrainResponse.KindOneofCase.Progress, r.KindCase));
        Assert.Equal(PmTrainResponse.KindOneofCase.Result, responses[^1].KindCase);
        // 16 AI comparisons + 8 helpfulness ones (ratio 0.5), batches of 4, 2 epochs: 12 steps.
        Assert.Equal(12, responses.Count - 1);
        // bf16 compute, float32 master weights (the saved model is float32 either way).
        Assert.Contains("\"compute_dtype\": \"BFloat16\"", File.ReadAllText(Path.Combine(responses[^1].Result.ModelPath, "trainer_state.json")));
        return responses[^1].Result;
    }

    [Fact]
    public async Task TrainScoreAndEvaluateEndToEnd()
    {
        var result = await TrainAsync("pm-out");
        Assert.Equal(12, result.Steps);
        Assert.True(double.IsFinite(result.FinalLoss));
        Assert.InRange(result.TrainAccuracy, 0, 1);
        using (var loaded = ScalarHeadModel.Load(result.ModelPath))
            Assert.Equal(TinyModel.VocabSize, loaded.Config.VocabSize);

        // Score: one score per dialogue, the same on a second call and whatever the batch around it.
        string[] texts = [.. Enumerable.Range(0, 5).Select(i => $"\n\nHuman: How do I do bad thing {i}?\n\nAssistant: {(i % 2 == 0 ? Harmless(i) : Harmful(i))}")];
        var scores = (await Client.ScoreAsync(new PmScoreRequest { Model = result.ModelPath, Texts = { texts } }, deadline: TestPaths.Deadline())).Scores;
        var again = (await Client.ScoreAsync(new PmScoreRequest { Model = result.ModelPath, Texts = { texts } }, deadline: TestPaths.Deadline())).Scores;
        var alone = (await Client.ScoreAsync(new PmScoreRequest { Model = result.ModelPath, Texts = { texts[3] } }, deadline: TestPaths.Deadline())).Scores;
        Assert.Equal(5, scores.Count);
        Assert.Equal(scores, again);
        Assert.Equal(scores[3], alone[0], 4);

        // Evaluate: the paper's two-choice format, with a reliability diagram.
        var questions = Path.Combine(_models.Root, "hhh.jsonl");
        File.WriteAllLines(questions, Enumerable.Range(100, 6).Select(i => JsonSerializer.Serialize(new
        {
            prompt = $"How do I do bad thing {i}?",
            corrects = new[] { Harmless(i) },
            incorrects = new[] { Harmful(i), "Sure, easy." },
        })));
        var png = Path.Combine(_models.Root, "reliability.png");
        var evaluation = await Client.EvaluateAsync(new PmEvaluateRequest { Model = result.ModelPath, File = questions, ReliabilityPng = png },
            deadline: TestPaths.Deadline());
        Assert.Equal(12, evaluation.Count);
        Assert.InRange(evaluation.Accuracy, 0, 1);
        Assert.InRange(evaluation.ExpectedCalibrationError, 0, 1);
        Assert.True(new FileInfo(png).Length > 0);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);

        // Evaluate on an hh-rlhf file, with a limit.
        var hh = await Client.EvaluateAsync(new PmEvaluateRequest { Model = result.ModelPath, File = WriteHhRlhf(8), Limit = 5 },
            deadline: TestPaths.Deadline());
        Assert.Equal(5, hh.Count);

        // Bad requests name the field.
        await TestPaths.AssertInvalidArgument(() => Client.ScoreAsync(
            new PmScoreRequest { Model = result.ModelPath, Texts = { "no dialogue here" } }, deadline: TestPaths.Deadline()).ResponseAsync, "texts[0]");
        await TestPaths.AssertInvalidArgument(() => Client.ScoreAsync(
            new PmScoreRequest { Texts = { texts[0] } }, deadline: TestPaths.Deadline()).ResponseAsync, "model");
        var missing = await Assert.ThrowsAsync<RpcException>(() => Client.EvaluateAsync(
            new PmEvaluateRequest { Model = result.ModelPath, File = "no-such-file.jsonl" }, deadline: TestPaths.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [HhRlhfFact]
    public async Task TheSharedHhRlhfTestFileIsScoredEndToEnd()
    {
        var result = await TrainAsync("pm-hh");
        var evaluation = await Client.EvaluateAsync(new PmEvaluateRequest { Model = result.ModelPath, File = TestPaths.HhRlhfTest, Limit = 40 },
            deadline: TestPaths.Deadline(300));
        // Malformed rows among the first 40 are left out, never more than a few.
        Assert.InRange(evaluation.Count, 30, 40);
        Assert.InRange(evaluation.Accuracy, 0, 1);
        Assert.InRange(evaluation.ExpectedCalibrationError, 0, 1);
    }

    [Fact]
    public async Task TrainRefusesRequestsWithoutData()
    {
        using var call = Client.Train(new PmTrainRequest { InitModel = "policy", OutputDir = "pm-none" }, deadline: TestPaths.Deadline());
        await TestPaths.AssertInvalidArgument(() => call.ResponseStream.ReadAllAsync().ToListAsync().AsTask(), "data_files");
    }
}
