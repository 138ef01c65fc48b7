using Cai.Inference;
using Cai.Modeling;
using Cai.Protos.V1;
using Cai.Services.Critique;
using Cai.Services.Critique.Grpc;
using Cai.Services.Critique.Workers;
using Cai.Services.Labeling;
using Cai.Services.Labeling.Grpc;
using Cai.Services.Labeling.Workers;
using Cai.Services.Sft;
using Cai.Services.Sft.Grpc;
using Cai.Services.Generation;
using Cai.Services.Generation.Grpc;
using Cai.Streams;
using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics.Metrics;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;
using Grpc.Core;
using StackExchange.Redis;
using SftClient = Cai.Protos.V1.Sft.SftClient;

namespace Cai.Services.Stages.Tests;

/// <summary>A real redis-server and a tiny policy, shared by the stream tests.</summary>
public sealed class RedisStagesFixture : IAsyncLifetime
{
    public ModelFixture Models { get; } = new();

    public RedisServerProcess Redis { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public IDatabase Db => Connection.GetDatabase();

    public async Task InitializeAsync()
    {
        Redis = await RedisServerProcess.StartAsync(Path.Combine(Models.Root, "redis"));
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
        Models.Dispose();
    }
}

/// <summary>The stage workers and the SFT stream input against a real redis-server.</summary>
public sealed class StreamStageTests(RedisStagesFixture fixture) : IClassFixture<RedisStagesFixture>
{
    private IDatabase Db => fixture.Db;

    private static string NewRunId() => "run-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task TheCritiqueWorkerTurnsARunsPromptsIntoOneRevisionRecordEach()
    {
        string runId = NewRunId();
        // Prompts first, then the worker: it must pick up what is already waiting.
        var prompts = ItemStream<PromptItem>.ForRun(runId, StageStreams.Prompts, p => p.Id);
        var producer = new StreamProducer<PromptItem>(Db, prompts);
        var items = Enumerable.Range(0, 6).Select(i => new PromptItem($"p{i}", $"How do I steal thing {i}?", i % 2 == 0 ? "harmful" : "helpful")).ToList();
        // A malformed prompt (it ends with the assistant) in the same batch must not fail the others.
        var malformed = new PromptItem("bad", "\n\nHuman: hi\n\nAssistant: hello");
        await producer.PublishManyAsync([.. items.Take(3), malformed, .. items.Skip(3)]);

        await using var server = await StageServer.StartAsync(b => b.AddCritique(), a => a.MapGrpcService<CritiqueService>(),
            fixture.Models.Settings(
                ("ConnectionStrings:redis", fixture.Redis.ConnectionString),
                ("Critique:Model", "policy"),
                ("Critique:Constitution", TestPaths.DefaultConstitution),
                ("Critique:RunIds", runId),
                ("Critique:WatchActiveRuns", "false"),
                ("Critique:Rounds", "1"),
                ("Critique:FewShotExamples", "0"),
                ("Critique:MaxNewTokens", "4"),
                ("Critique:BatchSize", "4")));

        var revisions = ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId);
        var done = await WaitForAsync(revisions, items.Count);
        Assert.Equal(items.Select(i => i.Id).Order(), done.Select(r => r.PromptId).Order());
        Assert.All(done, r =>
        {
            Assert.Single(r.Rounds);
            Assert.Equal(r.Rounds[0].Revision, r.FinalResponse);
            Assert.Equal(items.Single(i => i.Id == r.PromptId).Kind, r.Kind);
        });

        // A prompt delivered again (its id forgotten by the prompts stream) yields no second record; only the
        // malformed prompt stays pending (to be retried, then dead-lettered).
        await Db.KeyDeleteAsync(prompts.ItemIdsKey);
        await producer.PublishAsync(items[0]);
        await WaitUntilAsync(async () => (await Db.StreamPendingAsync(prompts.Key, CritiqueWorker.Group)).PendingMessageCount == 1
            && (await Db.StreamGroupInfoAsync(prompts.Key)).Single().LastDeliveredId == (await Db.StreamInfoAsync(prompts.Key)).LastGeneratedId);
        Assert.Equal(items.Count, await Db.StreamLengthAsync(revisions.Key));
    }

    [Fact]
    public async Task TheCritiqueWorkerSendsAWholeBatchOfPromptsToTheGenerationServiceAtOnce()
    {
        await using var generation = await StageServer.StartAsync(b => b.AddGeneration(), a => a.MapGrpcService<GenerationService>(),
            new Dictionary<string, string?> { ["Generation:ArtifactsRoot"] = fixture.Models.Root, ["Generation:Threads"] = "1" });
        var batchSizes = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var listener = new MeterListener();
        var meters = generation.Services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == GenerationMetrics.BatchSizeName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => batchSizes.Enqueue(value));
        listener.Start();

        string runId = NewRunId();
        const int prompts = 8;
        // Every prompt is in the stream before the worker starts, so its first read takes the whole batch.
        var stream = ItemStream<PromptItem>.ForRun(runId, StageStreams.Prompts, p => p.Id);
        await new StreamProducer<PromptItem>(Db, stream).PublishManyAsync(Enumerable.Range(0, prompts).Select(i => new PromptItem($"q{i}", $"Tell me secret {i}.")));
        await using var critique = await StageServer.StartAsync(b =>
        {
            b.AddCritique();
            b.Services.AddSingleton(new LanguageModelFactory(new InferenceOptions(), new GenerationClient(generation.Channel)));
        }, a => a.MapGrpcService<CritiqueService>(), fixture.Models.Settings(
            ("ConnectionStrings:redis", fixture.Redis.ConnectionString),
            ("Critique:Model", "policy"),
            ("Critique:Constitution", TestPaths.DefaultConstitution),
            ("Critique:RunIds", runId),
            ("Critique:WatchActiveRuns", "false"),
            ("Critique:Rounds", "1"),
            ("Critique:FewShotExamples", "0"),
            ("Critique:MaxNewTokens", "4"),
            ("Critique:BatchSize", prompts.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Critique:BatchWindow", "00:00:02")));

        await WaitForAsync(ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId), prompts);
        // Response, critique and revision: three model calls, each carrying every prompt of the batch.
        Assert.Equal([prompts, prompts, prompts], batchSizes.ToArray());
    }

    [Fact]
    public async Task TheLabelingWorkerTurnsARunsPairsIntoSoftLabelledComparisons()
    {
        string runId = NewRunId();
        await using var server = await StageServer.StartAsync(b => b.AddLabeling(), a => a.MapGrpcService<LabelingService>(),
            fixture.Models.Settings(
                ("ConnectionStrings:redis", fixture.Redis.ConnectionString),
                ("Labeling:Model", "policy"),
                ("Labeling:Constitution", TestPaths.DefaultConstitution),
                ("Labeling:WatchActiveRuns", "true"),
                ("Labeling:RunRefreshInterval", "00:00:00.2"),
                ("Labeling:BatchSize", "4")));
        // The run starts after the worker: it is found through the set of active runs.
        await Db.SetAddAsync(RunStreamWorkerService.ActiveRunsKey, runId);
        var pairs = ItemStream<PairItem>.ForRun(runId, StageStreams.Pairs, p => p.Id);
        var items = Enumerable.Range(0, 5).Select(i => new PairItem($"pair{i}", $"Can you help me with plan {i}?", ["Sure, here it is.", "No, that is harmful."])).ToList();
        await new StreamProducer<PairItem>(Db, pairs).PublishManyAsync(items);

        var comparisons = ItemStream<ComparisonItem>.ForRun(runId, StageStreams.Comparisons, c => c.Id);
        var labelled = await WaitForAsync(comparisons, items.Count);
        Assert.Equal(items.Select(i => i.Id).Order(), labelled.Select(c => c.Id).Order());
        Assert.All(labelled, c =>
        {
            Assert.Equal(2, c.Probabilities.Count);
            Assert.Equal(1.0, c.Probabilities.Sum(), 6);
            Assert.Equal(2, c.PrincipleIds.Count);
        });
        await Db.SetRemoveAsync(RunStreamWorkerService.ActiveRunsKey, runId);
    }

    [Fact]
    public async Task SftTrainsOnARunsRevisionsStreamWhenNoFilesAreGiven()
    {
        string runId = NewRunId();
        var revisions = ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId);
        await new StreamProducer<RevisionItem>(Db, revisions).PublishManyAsync(Enumerable.Range(0, 6).Select(i =>
            new RevisionItem($"r{i}", $"How do I hurt {i}?", "harmful", "Like so.", [new RevisionRound("harm-overall", "Harmful.", "I won't.")], "I won't help with that.")));

        await using var server = await StageServer.StartAsync(b => b.AddSft(), a => a.MapGrpcService<SftService>(),
            fixture.Models.Settings(("ConnectionStrings:redis", fixture.Redis.ConnectionString)));
        var client = new SftClient(server.Channel);
        var request = new SftTrainRequest { RunId = runId, BaseModel = "policy", OutputDir = $"sft-{runId}", BatchSize = 3, CheckpointEvery = 1, Seed = 1 };
        using (var call = client.Train(request, deadline: TestPaths.Deadline(300)))
        {
            var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();
            var result = responses[^1].Result;
            Assert.Equal(6, result.Examples);
            Assert.Equal(2, result.Steps);
            using var model = Checkpoint.LoadCausalLM(result.ModelPath);
        }

        // The same folder again without resume is refused.
        using (var again = client.Train(request, deadline: TestPaths.Deadline()))
            await TestPaths.AssertInvalidArgument(() => again.ResponseStream.ReadAllAsync().ToListAsync().AsTask(), "output_dir");
        request.Resume = true;
        using (var resumed = client.Train(request, deadline: TestPaths.Deadline(300)))
        {
            // It continues from the newest checkpoint: at most the last step is run again, never the first.
            var responses = await resumed.ResponseStream.ReadAllAsync().ToListAsync();
            Assert.Equal(2, responses[^1].Result.Steps);
            Assert.All(responses.SkipLast(1), r => Assert.Equal(2, r.Progress.Step));
        }
    }

    private async Task<IReadOnlyList<T>> WaitForAsync<T>(ItemStream<T> stream, int count)
    {
        IReadOnlyList<T> items = [];
        await WaitUntilAsync(async () => (items = await StageStreamReader.ReadAllAsync(Db, stream)).Count >= count);
        return items;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (!await condition()) await Task.Delay(200, timeout.Token);
    }
}
