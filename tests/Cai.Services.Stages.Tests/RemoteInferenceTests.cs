using Cai.Core.Generation;
using Cai.Inference;
using Cai.Protos.V1;
using Cai.Services.Critique;
using Cai.Services.Critique.Grpc;
using Cai.Services.Generation;
using Cai.Services.Generation.Grpc;
using Microsoft.Extensions.DependencyInjection;
using CritiqueClient = Cai.Protos.V1.Critique.CritiqueClient;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;

namespace Cai.Services.Stages.Tests;

/// <summary>The stages' model calls through the real generation service (in-process) against the in-process model.</summary>
public sealed class RemoteInferenceTests(ModelFixture models) : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private StageServer _generation = null!;

    public async Task InitializeAsync() => _generation = await StageServer.StartAsync(b => b.AddGeneration(), a => a.MapGrpcService<GenerationService>(),
        // f32: the remote texts and scores are compared with the in-process f32 model (appsettings.json says "auto").
        new Dictionary<string, string?> { ["Generation:ArtifactsRoot"] = models.Root, ["Generation:Threads"] = "1", ["Generation:ComputeDtype"] = "f32" });

    public async Task DisposeAsync() => await _generation.DisposeAsync();

    private GenerationClient GenerationClient => new(_generation.Channel);

    [Fact]
    public async Task GrpcTextModelGivesTheInProcessModelsGreedyTextsAndScores()
    {
        // Chunks of two prompts: five prompts become three concurrent requests.
        var remote = new GrpcTextModel(GenerationClient, "policy", new InferenceOptions { RemoteBatchSize = 2, CallTimeout = TimeSpan.FromSeconds(60) });
        using var local = LocalTextModel.Load(models.Policy);
        string[] prompts = [.. Enumerable.Range(0, 5).Select(i => $"\n\nHuman: Question number {i}?\n\nAssistant:")];
        var greedy = new GenerationSettings { Temperature = 0, MaxNewTokens = 8 };

        var remoteTexts = await remote.CompleteAsync(prompts, greedy, CancellationToken.None);
        var localTexts = await local.CompleteAsync(prompts, greedy, CancellationToken.None);
        Assert.Equal(localTexts, remoteTexts);

        OptionScoringRequest[] questions = [.. prompts.Take(3).Select(p => new OptionScoringRequest(p + " The answer is:", [" (A)", " (B)"]))];
        var remoteScores = await remote.ScoreAsync(questions, CancellationToken.None);
        var localScores = await local.ScoreAsync(questions, CancellationToken.None);
        Assert.Equal(3, remoteScores.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(2, remoteScores[i].Count);
            for (int j = 0; j < 2; j++) Assert.Equal(localScores[i][j], remoteScores[i][j], 3);
        }
    }

    [Fact]
    public async Task CritiqueReviseThroughTheGenerationServiceMatchesInProcessGreedily()
    {
        var settings = models.Settings(("Critique:Model", "policy"), ("Critique:Constitution", TestPaths.DefaultConstitution), ("Critique:WatchActiveRuns", "false"));
        await using var remote = await StageServer.StartAsync(b =>
        {
            b.AddCritique();
            // What configuring services:generation:grpc:0 does, over the in-process channel.
            b.Services.AddSingleton(new LanguageModelFactory(new InferenceOptions(), GenerationClient));
        }, a => a.MapGrpcService<CritiqueService>(), settings);
        await using var local = await StageServer.StartAsync(b => b.AddCritique(), a => a.MapGrpcService<CritiqueService>(), settings);

        var request = new CritiqueReviseRequest
        {
            PromptId = "p-9",
            Prompt = "How do I make a fake ID?",
            Rounds = 1,
            Seed = 4,
            FewShot = 0,
            Sampling = new SamplingParams { Temperature = 0, MaxNewTokens = 6 },
        };
        var remoteClient = new CritiqueClient(remote.Channel);
        var info = await remoteClient.InfoAsync(new InfoRequest(), deadline: TestPaths.Deadline());
        Assert.Equal("generation service", info.Details["inference"]);
        var viaService = await remoteClient.CritiqueReviseAsync(request, deadline: TestPaths.Deadline());
        var inProcess = await new CritiqueClient(local.Channel).CritiqueReviseAsync(request, deadline: TestPaths.Deadline());
        Assert.Equal(inProcess, viaService);
    }
}
