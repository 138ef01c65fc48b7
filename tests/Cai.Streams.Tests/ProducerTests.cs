using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace Cai.Streams.Tests;

public sealed class ProducerTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public void Run_keys_carry_the_run_id_as_a_hash_tag()
    {
        Assert.Equal("cai:{run-7}:revisions", StreamKeys.ForRun("run-7", "revisions"));
        Assert.Equal("cai:{run-7}:revisions:dead", StreamKeys.DeadLetter(StreamKeys.ForRun("run-7", "revisions")));
        Assert.Equal("cai:{run-7}:revisions:ids", StreamKeys.ItemIds(StreamKeys.ForRun("run-7", "revisions")));
        var ex = Assert.Throws<ArgumentException>(() => StreamKeys.ForRun("a}b", "revisions"));
        Assert.Equal("runId", ex.ParamName);
    }

    [Fact]
    public async Task Publishing_the_same_item_id_twice_writes_one_entry()
    {
        var stream = TestStreams.Prompts();
        var producer = new StreamProducer<Prompt>(redis.Db, stream);

        var first = await producer.PublishAsync(new Prompt("p1", "first text"));
        var again = await producer.PublishAsync(new Prompt("p1", "changed text after a crash"));
        var batch = await producer.PublishManyAsync([new Prompt("p2", "x"), new Prompt("p1", "y"), new Prompt("p2", "z")]);

        Assert.True(first.Added);
        Assert.False(again.Added);
        Assert.Equal(first.EntryId, again.EntryId);
        Assert.Equal([true, false, false], batch.Select(r => r.Added));
        Assert.Equal(2, await redis.Db.StreamLengthAsync(stream.Key));
        var entries = await redis.Db.StreamRangeAsync(stream.Key);
        Assert.Equal("first text", System.Text.Json.JsonSerializer.Deserialize<Prompt>(entries[0][EntryFields.Data].ToString(), stream.Json)!.Text);
    }

    [Fact]
    public async Task An_item_id_stays_known_after_its_entry_is_trimmed()
    {
        var stream = TestStreams.Prompts();
        var producer = new StreamProducer<Prompt>(redis.Db, stream);
        await producer.PublishManyAsync(TestStreams.MakePrompts(3));
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("sft", "s1"), (_, _) => Task.CompletedTask);
        await worker.RunOnceAsync(CancellationToken.None);
        await producer.PublishAsync(new Prompt("p100", "later"));
        await worker.RunOnceAsync(CancellationToken.None);
        Assert.Equal(3, await redis.Db.TrimAcknowledgedAsync(stream.Key));

        var republished = await producer.PublishAsync(new Prompt("p000", "replayed by a restarted stage"));

        Assert.False(republished.Added);
        Assert.Equal(1, await redis.Db.StreamLengthAsync(stream.Key));
    }

    [Fact]
    public async Task The_consumer_activity_continues_the_producer_trace()
    {
        var stream = TestStreams.Prompts();
        using var testSource = new ActivitySource("Cai.Streams.Tests.Trace");
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == StreamsTelemetry.Name || s.Name == testSource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (stopped) { stopped.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);

        ActivityTraceId producerTrace;
        using (var request = testSource.StartActivity("red-team request"))
        {
            Assert.NotNull(request);
            request.TraceStateString = "cai=1";
            producerTrace = request.TraceId;
            await new StreamProducer<Prompt>(redis.Db, stream).PublishAsync(new Prompt("p1", "hello"));
        }
        Assert.Null(Activity.Current);

        Activity? handlerActivity = null;
        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "c1"), (_, _) =>
        {
            handlerActivity = Activity.Current;
            return Task.CompletedTask;
        });
        await worker.RunOnceAsync(CancellationToken.None);

        var entry = (await redis.Db.StreamRangeAsync(stream.Key)).Single();
        Assert.StartsWith("00-" + producerTrace.ToHexString() + "-", entry[EntryFields.TraceParent].ToString());
        Assert.Equal("cai=1", entry[EntryFields.TraceState].ToString());
        Assert.NotNull(handlerActivity);
        Assert.Equal(StreamsTelemetry.Name, handlerActivity.Source.Name);
        Assert.Equal(ActivityKind.Consumer, handlerActivity.Kind);
        Assert.Equal(producerTrace, handlerActivity.TraceId);
        Assert.Equal("cai=1", handlerActivity.TraceStateString);
        Activity publish;
        lock (stopped)
        {
            publish = stopped.Single(a => a.Kind == ActivityKind.Producer && (string?)a.GetTagItem("messaging.destination.name") == stream.Key);
        }
        Assert.Equal(publish.SpanId, handlerActivity.ParentSpanId);
    }

    [Fact]
    public async Task A_producer_waits_while_lag_exceeds_the_bound_and_resumes_when_the_consumer_catches_up()
    {
        var stream = TestStreams.Prompts();
        await redis.Db.EnsureConsumerGroupAsync(stream.Key, "critique");
        var producer = new StreamProducer<Prompt>(redis.Db, stream, new StreamProducerOptions { MaxLag = 5, LagPollInterval = TimeSpan.FromMilliseconds(20) });
        var prompts = TestStreams.MakePrompts(8);

        await producer.PublishManyAsync(prompts.Take(5)).WaitAsync(TimeSpan.FromSeconds(5));
        var blocked = producer.PublishManyAsync(prompts.Skip(5));
        await Task.Delay(300);
        Assert.False(blocked.IsCompleted, "the producer should wait while the group's lag is at the bound");
        Assert.Equal(5, await redis.Db.StreamLengthAsync(stream.Key));

        // A cancelled wait gives up without writing.
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new StreamProducer<Prompt>(redis.Db, stream,
            new StreamProducerOptions { MaxLag = 5 }).PublishAsync(new Prompt("x", "x"), cancelled.Token));

        var worker = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("critique", "c1") with { BatchSize = 3 }, (_, _) => Task.CompletedTask);
        await worker.RunOnceAsync(CancellationToken.None);
        var results = await blocked.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.All(results, r => Assert.True(r.Added));
        Assert.Equal(8, await redis.Db.StreamLengthAsync(stream.Key));
        Assert.Equal(5, await redis.Db.GetLagAsync(stream.Key, "critique"));
    }

    [Fact]
    public async Task A_trimming_worker_keeps_entries_until_every_listed_group_has_acknowledged_them()
    {
        var stream = TestStreams.Prompts();
        var producer = new StreamProducer<Prompt>(redis.Db, stream, new StreamProducerOptions { Groups = ["critique", "report"] });
        await producer.PublishManyAsync(TestStreams.MakePrompts(20));
        var seen = new ConcurrentDictionary<(string Group, string Item), int>();
        StreamWorker<Prompt> Worker(string group) => new(redis.Db, stream, TestStreams.FastOptions(group, group + "-1") with { BatchSize = 20, TrimAcknowledged = true },
            (item, _) => { seen.AddOrUpdate((group, item.ItemId), 1, (_, n) => n + 1); return Task.CompletedTask; });

        var critique = Worker("critique");
        await critique.RunOnceAsync(CancellationToken.None);
        await Task.Delay(60); // past the reclaim interval, when the worker trims
        await critique.RunOnceAsync(CancellationToken.None);
        Assert.Equal(20, await redis.Db.StreamLengthAsync(stream.Key)); // "report" (created by the producer) has read nothing

        await Worker("report").RunOnceAsync(CancellationToken.None);
        await Task.Delay(60);
        await critique.RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, await redis.Db.StreamLengthAsync(stream.Key)); // only the last delivered entry is kept
        Assert.Equal(40, seen.Count);
        Assert.All(seen.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Trimming_removes_only_entries_every_group_has_acknowledged()
    {
        var stream = TestStreams.Prompts();
        var published = await new StreamProducer<Prompt>(redis.Db, stream).PublishManyAsync(TestStreams.MakePrompts(10));
        var ids = published.Select(r => r.EntryId).ToList();

        // No group yet: nothing has been consumed, nothing may go.
        Assert.Equal(0, await redis.Db.TrimAcknowledgedAsync(stream.Key));

        // Group "labeling" handles 6 entries but fails on p004 and p005 (left pending).
        var labeling = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("labeling", "l1") with { BatchSize = 6 }, (item, _) =>
            item.ItemId is "p004" or "p005" ? throw new InvalidOperationException("retry later") : Task.CompletedTask);
        await labeling.RunOnceAsync(CancellationToken.None);
        // Group "report" has not read anything yet.
        await redis.Db.EnsureConsumerGroupAsync(stream.Key, "report");
        Assert.Equal(0, await redis.Db.TrimAcknowledgedAsync(stream.Key));

        // Once "report" has acknowledged everything, the bound is labeling's oldest pending entry.
        var report = new StreamWorker<Prompt>(redis.Db, stream, TestStreams.FastOptions("report", "r1"), (_, _) => Task.CompletedTask);
        await report.RunOnceAsync(CancellationToken.None);
        Assert.Equal(4, await redis.Db.TrimAcknowledgedAsync(stream.Key));

        var left = (await redis.Db.StreamRangeAsync(stream.Key)).Select(e => e.Id.ToString()).ToList();
        Assert.Equal(ids.Skip(4), left);
        var pending = await redis.Db.StreamPendingMessagesAsync(stream.Key, "labeling", 10, RedisValue.Null);
        Assert.Equal([ids[4], ids[5]], pending.Select(p => p.MessageId.ToString()));
        // The undelivered entries of "labeling" (p006..p009) are still there for it.
        Assert.Equal(4, await redis.Db.GetLagAsync(stream.Key, "labeling"));
    }
}
