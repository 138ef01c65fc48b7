using System.Runtime.CompilerServices;
using Cai.ServiceDefaults;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cai.Services.Stages.Tests;

/// <summary>A stage service wired as its Program.cs wires it, served in-process by TestServer.</summary>
internal sealed class StageServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StageServer(WebApplication app)
    {
        _app = app;
        var server = app.GetTestServer();
        Channel = GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
    }

    public GrpcChannel Channel { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="register">The service's own registration (e.g. <c>b => b.AddCritique()</c>).</param>
    /// <param name="map">Maps its gRPC service.</param>
    /// <param name="settings">Configuration.</param>
    public static async Task<StageServer> StartAsync(Action<WebApplicationBuilder> register, Action<WebApplication> map,
        IDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddCaiRedis();
        builder.Services.AddCaiGrpc();
        register(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return new StageServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal static class TestPaths
{
    /// <summary>The repository root (the folder holding CAI.sln), found from this source file.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    public static string DefaultConstitution => Path.Combine(RepositoryRoot, "constitutions", "default.yaml");

    /// <summary>The team's shared hh-rlhf harmless-base test file (beside the checkout, not in the repository), or null.</summary>
    public static string? HhRlhfTest { get; } = FindShared(Path.Combine("shared", "data", "hh-rlhf", "harmless-base-test.jsonl.gz"));

    /// <summary>A deadline for every gRPC call of the tests.</summary>
    public static DateTime Deadline(int seconds = 120) => DateTime.UtcNow.AddSeconds(seconds);

    public static async Task<RpcException> AssertInvalidArgument(Func<Task> call, string field)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail);
        return ex;
    }

    private static string? FindShared(string relative)
    {
        for (var dir = new DirectoryInfo(RepositoryRoot); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        return null;
    }

    private static string FindRoot([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CAI.sln"))) return dir.FullName;
        throw new InvalidOperationException($"CAI.sln not found above {source}");
    }
}

/// <summary>A fact that needs the shared hh-rlhf test file; skipped, saying why, where it is absent (a user's clone).</summary>
public sealed class HhRlhfFactAttribute : FactAttribute
{
    public HhRlhfFactAttribute()
    {
        if (TestPaths.HhRlhfTest is null)
            Skip = "shared/data/hh-rlhf/harmless-base-test.jsonl.gz not found above the repository (it ships beside the team's checkout only).";
    }
}
