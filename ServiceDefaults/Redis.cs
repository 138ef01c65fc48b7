using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Cai.ServiceDefaults;

/// <summary>
/// The service's Redis connection, from the connection string "redis" (the AppHost injects it).
/// A service started without one still serves its RPCs; its stream workers stay idle and Info says so.
/// </summary>
public sealed class RedisConnection : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer>? _multiplexer;

    public RedisConnection(IConfiguration configuration)
    {
        string? connectionString = configuration.GetConnectionString("redis");
        if (string.IsNullOrWhiteSpace(connectionString)) return;
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false; // keep retrying while Redis starts
        options.ClientName = AppDomain.CurrentDomain.FriendlyName;
        _multiplexer = new Lazy<ConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(options));
    }

    public bool IsConfigured => _multiplexer is not null;

    public bool IsConnected => _multiplexer is { IsValueCreated: true, Value.IsConnected: true };

    /// <summary>The multiplexer; throws with a clear message when no connection string was given.</summary>
    public IConnectionMultiplexer Multiplexer => _multiplexer?.Value
        ?? throw new InvalidOperationException("No Redis connection string: set ConnectionStrings:redis (the AppHost does this).");

    public void Dispose()
    {
        if (_multiplexer is { IsValueCreated: true }) _multiplexer.Value.Dispose();
    }
}

public static class RedisExtensions
{
    public static TBuilder AddCaiRedis<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton<RedisConnection>();
        builder.Services.AddHostedService<Probe.StreamProbeResponder>();
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis");
        return builder;
    }

    private sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!redis.IsConfigured) return HealthCheckResult.Healthy("No Redis configured (standalone service).");
            try
            {
                var latency = await redis.Multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:F1} ms");
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy("Redis is unreachable.", ex);
            }
        }
    }
}
