using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Cai.Streams.Tests;

public sealed class ConsumerGroupTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Ack_happens_after_the_handler_and_removes_the_entry_from_pending()
    {
        var stream = TestStreams.Prompts();
        await new StreamProducer<Prompt>(redis.Db, stream).PublishManyAsync(TestStreams.MakePrompts(5));
        var pendingDuringHandler = new List<long>();
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "c1"), async (item, ct) =>
        {
            pendingDuringHandler.Add((await redis.Db.StreamPendingAsync(stream.Key, "critique")).PendingMessageCount);
        });

        var delivered = await worker.RunOnceAsync(CancellationToken.None);

        Assert.Equal(5, delivered);
        // Entries are pending while handled (not acked before), and each ack removes one.
        Assert.Equal([5L, 4L, 3L, 2L, 1L], pendingDuringHandler);
        Assert.Equal(0, (await redis.Db.StreamPendingAsync(stream.Key, "critique")).PendingMessageCount);
    }

    [Fact]
    public async Task A_failing_handler_leaves_its_entry_pending()
    {
        var stream = TestStreams.Prompts();
        await new StreamProducer<Prompt>(redis.Db, stream).PublishManyAsync(TestStreams.MakePrompts(3));
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "c1"), (item, ct) =>
            item.ItemId == "p001" ? throw new InvalidOperationException("model failed") : Task.CompletedTask);

        await worker.RunOnceAsync(CancellationToken.None);

        var pending = await redis.Db.StreamPendingMessagesAsync(stream.Key, "critique", 10, RedisValue.Null);
        var only = Assert.Single(pending);
        var entry = await redis.Db.StreamRangeAsync(stream.Key, only.MessageId, only.MessageId);
        Assert.Equal("p001", entry.Single()[EntryFields.ItemId].ToString());
    }

    [Fact]
    public async Task Entries_of_a_killed_consumer_are_reclaimed_and_every_item_is_handled_exactly_once()
    {
        var stream = TestStreams.Prompts();
        var prompts = TestStreams.MakePrompts(40);
        await new StreamProducer<Prompt>(redis.Db, stream).PublishManyAsync(prompts);
        var completed = new ConcurrentDictionary<string, int>();
        var maxDelivery = new ConcurrentDictionary<string, long>();

        // Consumer A completes 6 items, then hangs on the 7th and is killed with 4 more of its batch unhandled.
        using var killA = new CancellationTokenSource();
        var startedA = 0;
        var hung = new TaskCompletionSource();
        var workerA = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "a"), async (item, ct) =>
        {
            if (Interlocked.Increment(ref startedA) == 7)
            {
                hung.SetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }
            completed.AddOrUpdate(item.ItemId, 1, (_, n) => n + 1);
        });
        var runA = workerA.RunAsync(killA.Token);
        await hung.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await killA.CancelAsync();
        await runA;
        var pendingOfA = (await redis.Db.StreamPendingAsync(stream.Key, "critique")).Consumers.Single(c => c.Name == "a").PendingMessageCount;
        Assert.Equal(4, pendingOfA);

        // Consumer B reads the rest and, after the idle timeout, takes over A's pending entries.
        using var stopB = new CancellationTokenSource();
        var workerB = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "b"), (item, ct) =>
        {
            completed.AddOrUpdate(item.ItemId, 1, (_, n) => n + 1);
            maxDelivery[item.ItemId] = item.DeliveryCount;
            return Task.CompletedTask;
        });
        var runB = workerB.RunAsync(stopB.Token);
        await TestStreams.WaitUntilAsync(async () => completed.Count == prompts.Count
            && (await redis.Db.StreamPendingAsync(stream.Key, "critique")).PendingMessageCount == 0, what: "all items handled and acked");
        await stopB.CancelAsync();
        await runB;

        Assert.Equal(prompts.Select(p => p.Id).Order(), completed.Keys.Order());
        Assert.All(completed, kv => Assert.Equal(1, kv.Value));
        // Exactly A's 4 unfinished entries came to B as second deliveries.
        Assert.Equal(4, maxDelivery.Count(kv => kv.Value == 2));
    }

    [Fact]
    public async Task An_item_failing_max_deliveries_times_is_dead_lettered_with_its_error_and_acked()
    {
        // A name of its own: counters are tagged by stream name, and other tests run in parallel.
        var stream = TestStreams.Prompts("prompts-" + RedisFixture.NewRunId());
        using var metrics = new CounterProbe(stream.Name);
        await new StreamProducer<Prompt>(redis.Db, stream).PublishManyAsync(
            [new Prompt("ok-1", "fine"), new Prompt("poison", "breaks the model"), new Prompt("ok-2", "fine")]);
        var poisonAttempts = 0;
        var done = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("labeling", "l1"), (item, ct) =>
        {
            if (item.ItemId == "poison")
            {
                Interlocked.Increment(ref poisonAttempts);
                throw new InvalidOperationException($"cannot label {item.Value.Text}");
            }
            done.Add(item.ItemId);
            return Task.CompletedTask;
        });

        var run = worker.RunAsync(stop.Token);
        await TestStreams.WaitUntilAsync(async () => (await redis.Db.StreamLengthAsync(stream.DeadLetterKey)) == 1, what: "a dead letter");
        await stop.CancelAsync();
        await run;

        var dead = Assert.Single(await redis.Db.ReadDeadLettersAsync(stream.DeadLetterKey));
        Assert.Equal("poison", dead.ItemId);
        Assert.Equal("System.InvalidOperationException: cannot label breaks the model", dead.Error);
        Assert.Equal(3, dead.Deliveries);
        Assert.Equal("labeling", dead.Group);
        Assert.Equal(new Prompt("poison", "breaks the model"), System.Text.Json.JsonSerializer.Deserialize<Prompt>(dead.Data, stream.Json));
        Assert.Equal(3, poisonAttempts);
        Assert.Equal(["ok-1", "ok-2"], done.Order());
        Assert.Equal(0, (await redis.Db.StreamPendingAsync(stream.Key, "labeling")).PendingMessageCount);
        Assert.Equal(3, metrics.Total("cai.streams.published"));
        Assert.Equal(2, metrics.Total("cai.streams.acked"));
        Assert.Equal(3, metrics.Total("cai.streams.handler_failures"));
        Assert.Equal(2, metrics.Total("cai.streams.reclaimed"));
        Assert.Equal(1, metrics.Total("cai.streams.dead_lettered"));
    }

    [Fact]
    public async Task A_malformed_entry_is_dead_lettered_at_once_without_running_the_handler()
    {
        var stream = TestStreams.Prompts();
        await redis.Db.StreamAddAsync(stream.Key, [new NameValueEntry(EntryFields.ItemId, "broken"), new NameValueEntry(EntryFields.Data, "{not json")]);
        var handled = 0;
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "c1"), (_, _) =>
        {
            handled++;
            return Task.CompletedTask;
        });

        await worker.RunOnceAsync(CancellationToken.None);

        var dead = Assert.Single(await redis.Db.ReadDeadLettersAsync(stream.DeadLetterKey));
        Assert.Equal("broken", dead.ItemId);
        Assert.StartsWith("malformed entry:", dead.Error);
        Assert.Equal(0, handled);
        Assert.Equal(0, (await redis.Db.StreamPendingAsync(stream.Key, "critique")).PendingMessageCount);
    }

    [Fact]
    public void Options_are_validated_naming_the_option()
    {
        var stream = TestStreams.Prompts();
        var bad = TestStreams.FastOptions("g", "c") with { BatchSize = 0 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new StreamWorker<Prompt>(redis.Db, stream, bad, (_, _) => Task.CompletedTask));
        Assert.Equal("BatchSize", ex.ParamName);
        Assert.Contains("StreamWorkerOptions.BatchSize", ex.Message);
    }
}
