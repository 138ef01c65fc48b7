using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Cai.AppHost;

/// <summary>redis-server from the machine, run as an executable resource (no container runtime needed).</summary>
public sealed class RedisServerResource(string name, string workingDirectory)
    : ExecutableResource(name, "redis-server", workingDirectory), IResourceWithConnectionString
{
    public EndpointReference Endpoint => new(this, "tcp");

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)}");
}

public static class RedisResourceExtensions
{
    /// <summary>
    /// Redis for the run's streams: Aspire's Redis container when a container runtime answers,
    /// otherwise redis-server from the machine, otherwise a clear error (never a silent wait).
    /// Data is persisted (append-only file) under the artifacts root, so a restart loses nothing.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddCaiRedis(
        this IDistributedApplicationBuilder builder, CaiHostOptions options)
    {
        string dataDir = Path.Combine(options.ArtifactsRoot, "redis");
        Directory.CreateDirectory(dataDir);
        bool wantContainer = options.RedisMode == "container" || (options.RedisMode == "auto" && ContainerRuntimeAnswers());
        if (wantContainer)
        {
            var container = builder.AddRedis("redis").WithDataBindMount(dataDir).WithPersistence(TimeSpan.FromSeconds(10));
            return builder.CreateResourceBuilder<IResourceWithConnectionString>(container.Resource);
        }

        if (FindOnPath("redis-server") is null)
            throw new HostConfigurationException(
                "Redis is needed and neither a container runtime (Docker or Podman) nor redis-server was found. " +
                "Install one: `sudo apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS), " +
                "or start Docker/Podman. Cai:Redis:Mode chooses explicitly (auto, container, executable).");

        var resource = new RedisServerResource("redis", dataDir);
        string healthKey = "redis-ping";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthKey, async ct =>
        {
            var allocated = resource.Endpoint;
            if (!allocated.IsAllocated) return HealthCheckResult.Unhealthy("Endpoint not allocated yet.");
            return await PingAsync(allocated.Host, allocated.Port, ct)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("redis-server does not answer PING yet.");
        });
        var redis = builder.AddResource(resource)
            .WithEndpoint(scheme: "tcp", name: "tcp", isProxied: false)
            .WithArgs(ctx =>
            {
                ctx.Args.Add("--port");
                ctx.Args.Add(resource.Endpoint.Property(EndpointProperty.TargetPort));
                ctx.Args.Add("--bind");
                ctx.Args.Add("127.0.0.1");
                ctx.Args.Add("--dir");
                ctx.Args.Add(dataDir);
                ctx.Args.Add("--appendonly");
                ctx.Args.Add("yes");
                ctx.Args.Add("--save");
                ctx.Args.Add("");
            })
            .WithHealthCheck(healthKey);
        return builder.CreateResourceBuilder<IResourceWithConnectionString>(redis.Resource);
    }

    private static async Task<bool> PingAsync(string host, int port, CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(host, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[16];
            int n = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>True when `docker info` (or `podman info` with ASPIRE_CONTAINER_RUNTIME=podman) answers within 5 s.</summary>
    private static bool ContainerRuntimeAnswers()
    {
        string runtime = Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME") ?? "docker";
        if (FindOnPath(runtime) is null) return false;
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null) return false;
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
