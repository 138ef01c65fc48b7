using StackExchange.Redis;

namespace Cai.Streams.Tests;

/// <summary>A real redis-server (append-only, temp folder) shared by the tests of one class.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "cai-streams-tests", Guid.NewGuid().ToString("N"));

    public RedisServerProcess Server { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public IDatabase Db => Connection.GetDatabase();

    public async Task InitializeAsync()
    {
        Server = await RedisServerProcess.StartAsync(_dataDirectory);
        Connection = await ConnectionMultiplexer.ConnectAsync(Server.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Server.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    /// <summary>A fresh run id, so every test has its own keys on the shared server.</summary>
    public static string NewRunId() => Guid.NewGuid().ToString("N")[..12];
}

/// <summary>The item type of the tests: a red-team prompt with its id.</summary>
public sealed record Prompt(string Id, string Text);

internal static class TestStreams
{
    public static ItemStream<Prompt> Prompts(string name = "prompts") =>
        ItemStream<Prompt>.ForRun(RedisFixture.NewRunId(), name, p => p.Id);

    public static List<Prompt> MakePrompts(int count) =>
        Enumerable.Range(0, count).Select(i => new Prompt($"p{i:D3}", $"red-team prompt {i}")).ToList();

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test after <paramref name="seconds"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, double seconds = 10, string what = "condition")
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            }
            await Task.Delay(25);
        }
    }

    public static StreamWorkerOptions FastOptions(string group, string consumer) => new()
    {
        Group = group,
        Consumer = consumer,
        BatchSize = 10,
        PollInterval = TimeSpan.FromMilliseconds(20),
        ClaimIdleTimeout = TimeSpan.FromMilliseconds(300),
        ReclaimInterval = TimeSpan.FromMilliseconds(50),
        MaxDeliveries = 3,
    };
}
