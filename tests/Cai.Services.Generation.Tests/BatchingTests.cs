using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cai.Protos.V1;
using Grpc.Core;
using Xunit.Abstractions;
using static Cai.Services.Generation.Tests.GenerationServiceTests;

namespace Cai.Services.Generation.Tests;

public sealed class BatchingTests(ServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task SixtyFourConcurrentCallsAreBatchedAndAtLeastFiveTimesFasterThanOneAfterAnother()
    {
        var client = fixture.Server.Client;
        const int calls = 64, newTokens = 16;
        var prompts = Enumerable.Range(0, calls).Select(i => $"prompt {i}: say something").ToArray();

        var batchSizes = new ConcurrentBag<int>();
        using var listener = new MeterListener();
        var factory = fixture.Server.MeterFactory;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == GenerationMetrics.BatchSizeName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => batchSizes.Add(value));
        listener.Start();

        // Warm-up: load the model and run both paths once.
        await Generate(client, Greedy("warm up", newTokens));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Generate(client, Greedy("warm up", newTokens))));

        var sequential = new string[calls];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++)
            sequential[i] = (await Generate(client, Greedy(prompts[i], newTokens))).Single().Completion.Text;
        var sequentialTime = clock.Elapsed;

        batchSizes.Clear();
        clock.Restart();
        var concurrent = await Task.WhenAll(prompts.Select(p => Generate(client, Greedy(p, newTokens))));
        var concurrentTime = clock.Elapsed;

        double speedup = sequentialTime / concurrentTime;
        output.WriteLine($"{calls} calls x {newTokens} greedy tokens: one after another {sequentialTime.TotalMilliseconds:F0} ms, " +
                         $"concurrent {concurrentTime.TotalMilliseconds:F0} ms, speedup {speedup:F1}x; batch sizes [{string.Join(", ", batchSizes.Order())}]");

        // Every caller got its own prompt's text, the same as when it ran alone.
        for (int i = 0; i < calls; i++) Assert.Equal(sequential[i], concurrent[i].Single().Completion.Text);
        Assert.Contains(batchSizes, size => size > 1);
        Assert.True(batchSizes.All(size => size <= 64), "no batch exceeds MaxBatchSize");
        Assert.Equal(calls, batchSizes.Sum());
        Assert.True(speedup >= 5, $"speedup {speedup:F1}x < 5x");
    }

    [Fact]
    public async Task CallsWithDifferentSamplingSettingsRunInSeparateBatches()
    {
        var client = fixture.Server.Client;
        await Generate(client, Greedy("warm up", 1));
        var batchSizes = new ConcurrentBag<int>();
        using var listener = new MeterListener();
        var factory = fixture.Server.MeterFactory;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == GenerationMetrics.BatchSizeName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => batchSizes.Add(value));
        listener.Start();

        var calls = Enumerable.Range(0, 8).Select(i => Generate(client, Greedy($"call {i}", i % 2 == 0 ? 3 : 5))).ToList();
        var results = await Task.WhenAll(calls);

        for (int i = 0; i < 8; i++) Assert.Equal(i % 2 == 0 ? 3 : 5, results[i].Single().Completion.NumTokens);
        Assert.Equal(8, batchSizes.Sum());
        Assert.All(batchSizes, size => Assert.True(size <= 4, $"a batch of {size} mixed max_new_tokens settings"));
    }

    [Fact]
    public async Task AFullQueueAnswersResourceExhausted()
    {
        await using var server = await GenerationServer.StartAsync(fixture.Root,
            ("Generation:MaxQueueLength", "2"), ("Generation:MaxBatchSize", "1"));
        // Load the model first, so the calls below meet a busy model rather than a loading one.
        await Generate(server.Client, Greedy("warm up", 1));

        var calls = Enumerable.Range(0, 10).Select(async i =>
        {
            try
            {
                await Generate(server.Client, Greedy($"call {i}", 60));
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }).ToList();
        var codes = await Task.WhenAll(calls);
        output.WriteLine(string.Join(", ", codes));
        Assert.Contains(StatusCode.ResourceExhausted, codes);
        Assert.Contains(StatusCode.OK, codes);
        Assert.All(codes, c => Assert.True(c is StatusCode.OK or StatusCode.ResourceExhausted, c.ToString()));
    }

    [Fact]
    public async Task ACallCancelledWhileQueuedFreesItsSlot()
    {
        // A wider model than the fixture's, so that the 250-token call below keeps the model busy (about a
        // second even on an idle machine) for much longer than the queue checks take (milliseconds).
        TinyModel.Write(Path.Combine(fixture.Root, "wide"), seed: 5,
            TinyModel.Config with { HiddenSize = 256, IntermediateSize = 1024, NumHiddenLayers = 4 });
        await using var server = await GenerationServer.StartAsync(fixture.Root,
            ("Generation:MaxQueueLength", "2"), ("Generation:MaxBatchSize", "1"), ("Generation:MaxNewTokens", "250"));
        var client = server.Client;
        await Generate(client, Greedy("warm up", 1, model: "wide"));

        // A long call occupies the model; two more fill the queue.
        using var running = client.Generate(Greedy("a", 250, stream: true, model: "wide"), deadline: Deadline());
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None), "the long call is running");
        using var leaving = new CancellationTokenSource();
        var queuedA = Generate(client, Greedy("b", 2, model: "wide"));
        using var queuedB = client.Generate(Greedy("c", 2, model: "wide"), deadline: Deadline(), cancellationToken: leaving.Token);
        await WaitForQueueLength(client, "2");

        var full = await Assert.ThrowsAsync<RpcException>(() => Generate(client, Greedy("d", 2, model: "wide")));
        Assert.Equal(StatusCode.ResourceExhausted, full.StatusCode);

        await leaving.CancelAsync();
        await WaitForQueueLength(client, "1");
        var accepted = Generate(client, Greedy("e", 2, model: "wide"));

        var rest = await ReadAll(running);
        Assert.Equal(250, rest.Count(r => r.KindCase == GenerateResponse.KindOneofCase.Delta) + 1);
        Assert.Equal(2, (await queuedA).Single().Completion.NumTokens);
        Assert.Equal(2, (await accepted).Single().Completion.NumTokens);
        var cancelled = await Assert.ThrowsAsync<RpcException>(() => ReadAll(queuedB));
        Assert.Equal(StatusCode.Cancelled, cancelled.StatusCode);
    }

    private static async Task WaitForQueueLength(Cai.Protos.V1.Generation.GenerationClient client, string expected)
    {
        var clock = Stopwatch.StartNew();
        string? seen = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            var info = await client.InfoAsync(new InfoRequest(), deadline: Deadline(10));
            seen = info.Details["queue_length"];
            if (seen == expected) return;
            await Task.Delay(5);
        }
        Assert.Fail($"queue_length stayed {seen}, expected {expected}");
    }

    [Fact]
    public async Task TheLeastRecentlyUsedModelIsEvictedAndReloadsOnDemand()
    {
        await using var server = await GenerationServer.StartAsync(fixture.Root, ("Generation:MaxLoadedModels", "1"));
        var a = (await Generate(server.Client, Greedy("hello", 6, model: "tiny"))).Single().Completion.Text;
        var b = (await Generate(server.Client, Greedy("hello", 6, model: Path.Combine(fixture.Root, "tiny-b")))).Single().Completion.Text;
        var info = await server.Client.InfoAsync(new InfoRequest(), deadline: Deadline(30));
        Assert.Equal(Path.Combine(fixture.Root, "tiny-b"), info.Details["loaded_models"]);
        Assert.NotEqual(a, b); // two different random models

        var again = (await Generate(server.Client, Greedy("hello", 6, model: "tiny"))).Single().Completion.Text;
        Assert.Equal(a, again);
        info = await server.Client.InfoAsync(new InfoRequest(), deadline: Deadline(30));
        Assert.Equal("tiny", info.Details["loaded_models"]);
    }
}
