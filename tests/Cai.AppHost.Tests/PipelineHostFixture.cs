using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cai.AppHost.Tests;

/// <summary>One real AppHost (Redis and all seven services) shared by a test class: start ~10 s, stop ~15 s.</summary>
public sealed class PipelineHostFixture : IAsyncLifetime
{
    public static readonly string[] Services =
        ["generation", "critique", "sft", "labeling", "preference-model", "ppo", "orchestrator"];

    private readonly Dictionary<string, GrpcChannel> _channels = new();
    public DistributedApplication App { get; private set; } = null!;
    public string ArtifactsRoot { get; } = Path.Combine(Path.GetTempPath(), "cai-apphost-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
            [$"Cai:ArtifactsRoot={ArtifactsRoot}", "Cai:Redis:Mode=executable", "Cai:Profile=none"]);
        // Health checks fail while services start; those expected failures would bury real output.
        builder.Services.AddLogging(logging => logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None));
        App = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await App.StartAsync(cts.Token);
        foreach (string name in Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(name, cts.Token);
    }

    public GrpcChannel Channel(string service)
    {
        lock (_channels)
        {
            if (!_channels.TryGetValue(service, out var channel))
                _channels[service] = channel = GrpcChannel.ForAddress(App.GetEndpoint(service, "grpc"));
            return channel;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
        await App.DisposeAsync();
        try { Directory.Delete(ArtifactsRoot, recursive: true); } catch (IOException) { }
    }
}
