using StackExchange.Redis;

namespace Cai.Streams.Tests;

public sealed class PersistenceTests
{
    [Fact]
    public async Task Entries_groups_pending_and_item_ids_survive_a_redis_restart_on_the_same_folder()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cai-streams-tests", Guid.NewGuid().ToString("N"));
        var stream = TestStreams.Prompts();
        try
        {
            await using (var server = await RedisServerProcess.StartAsync(dir))
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
            {
                var db = connection.GetDatabase();
                await new StreamProducer<Prompt>(db, stream).PublishManyAsync(TestStreams.MakePrompts(3));
                await db.EnsureConsumerGroupAsync(stream.Key, "critique");
                await db.StreamReadGroupAsync(stream.Key, "critique", "c1", StreamPosition.NewMessages, 1);
                await server.StopAsync();
                Assert.False(server.IsRunning);
            }

            await using (var server = await RedisServerProcess.StartAsync(dir))
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
            {
                var db = connection.GetDatabase();
                Assert.Equal(3, await db.StreamLengthAsync(stream.Key));
                Assert.Equal(1, (await db.StreamPendingAsync(stream.Key, "critique")).PendingMessageCount);
                var replay = await new StreamProducer<Prompt>(db, stream).PublishAsync(new Prompt("p002", "replayed"));
                Assert.False(replay.Added);
                Assert.Equal(3, await db.StreamLengthAsync(stream.Key));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_missing_redis_server_executable_gives_an_actionable_error()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cai-streams-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                RedisServerProcess.StartAsync(dir, executable: "/nonexistent/redis-server"));
            Assert.Contains("apt-get install -y redis-server", ex.Message);
            Assert.Contains(RedisServerProcess.ExecutableVariable, ex.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
