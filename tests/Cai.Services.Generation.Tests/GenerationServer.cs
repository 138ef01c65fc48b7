using System.Diagnostics.Metrics;
using Cai.ServiceDefaults;
using Cai.Services.Generation.Grpc;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;

namespace Cai.Services.Generation.Tests;

/// <summary>The generation service wired as Program.cs wires it, served in-process by TestServer.</summary>
internal sealed class GenerationServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private GenerationServer(WebApplication app)
    {
        _app = app;
        var server = app.GetTestServer();
        _channel = GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
        Client = new GenerationClient(_channel);
    }

    public GenerationClient Client { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The factory that owns this server's meters, to tell them from other servers' in a MeterListener.</summary>
    public IMeterFactory MeterFactory => _app.Services.GetRequiredService<IMeterFactory>();

    public static async Task<GenerationServer> StartAsync(string artifactsRoot, params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        // f32 unless a test asks otherwise: tests compare the service with the f32 model core (appsettings.json says "auto").
        var config = new Dictionary<string, string?> { ["Generation:ArtifactsRoot"] = artifactsRoot, ["Generation:ComputeDtype"] = "f32" };
        foreach (var (key, value) in settings) config[key] = value;
        builder.Configuration.AddInMemoryCollection(config);
        builder.AddCaiRedis();
        builder.Services.AddCaiGrpc();
        builder.AddGeneration();
        var app = builder.Build();
        app.MapGrpcService<GenerationService>();
        await app.StartAsync();
        return new GenerationServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>An artifacts root with two tiny models ("tiny", "tiny-b") and one shared server over it.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-gensvc-tests", Guid.NewGuid().ToString("N"));

    public string ModelDir => Path.Combine(Root, "tiny");

    internal GenerationServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TinyModel.Write(Path.Combine(Root, "tiny"), seed: 7);
        TinyModel.Write(Path.Combine(Root, "tiny-b"), seed: 8);
        Server = await GenerationServer.StartAsync(Root, ("Generation:MaxPromptTokens", "64"), ("Generation:MaxNewTokens", "100"),
            // One intra-op thread: on a loaded two-core machine, OpenMP barriers across two threads stall.
            ("Generation:Threads", "1"));
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
