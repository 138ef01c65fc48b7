using Cai.ServiceDefaults.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using System.Net;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The defaults every CAI service shares (in the shape of Aspire's ServiceDefaults): OpenTelemetry,
/// health checks, service discovery, resilience, the two Kestrel endpoints, gRPC conventions.
/// </summary>
public static class CaiServiceDefaults
{
    /// <summary>ActivitySource and Meter names of the project: every library names its own under "Cai.".</summary>
    public static readonly string[] TelemetrySources =
    [
        "Cai.Streams", "Cai.Generation", "Cai.Critique", "Cai.Sft", "Cai.Labeling",
        "Cai.PreferenceModel", "Cai.Ppo", "Cai.Orchestrator", "Cai.Training", "Cai.Modeling",
    ];

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>
    /// gRPC over plain HTTP/2 on one port and HTTP/1.1 (health, alive) on another. Ports come from
    /// CAI_GRPC_PORT / CAI_HTTP_PORT (the AppHost sets them) or Cai:GrpcPort / Cai:HttpPort; the bind
    /// address is loopback unless Cai:BindAddress says otherwise (containers bind 0.0.0.0).
    /// </summary>
    public static WebApplicationBuilder ConfigureCaiEndpoints(this WebApplicationBuilder builder, int defaultGrpcPort)
    {
        var config = builder.Configuration;
        int grpcPort = ReadPort(config, "CAI_GRPC_PORT", "Cai:GrpcPort", defaultGrpcPort);
        int httpPort = ReadPort(config, "CAI_HTTP_PORT", "Cai:HttpPort", defaultGrpcPort + 1);
        string bind = config["Cai:BindAddress"] ?? "localhost";
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listen(kestrel, bind, grpcPort, HttpProtocols.Http2);
            Listen(kestrel, bind, httpPort, HttpProtocols.Http1);
        });
        return builder;
    }

    private static void Listen(KestrelServerOptions kestrel, string bind, int port, HttpProtocols protocols)
    {
        if (bind is "localhost") kestrel.ListenLocalhost(port, o => o.Protocols = protocols);
        else if (bind is "*" or "0.0.0.0") kestrel.ListenAnyIP(port, o => o.Protocols = protocols);
        else kestrel.Listen(IPAddress.Parse(bind), port, o => o.Protocols = protocols);
    }

    private static int ReadPort(IConfiguration config, string envKey, string key, int fallback)
    {
        string? raw = config[envKey] ?? config[key];
        if (raw is null) return fallback;
        if (!int.TryParse(raw, out int port) || port is < 0 or > 65535)
            throw new InvalidOperationException($"Configuration '{(config[envKey] is null ? key : envKey)}' must be a port number (0-65535); got '{raw}'.");
        return port;
    }

    /// <summary>gRPC with the exception interceptor, health and reflection.</summary>
    public static IServiceCollection AddCaiGrpc(this IServiceCollection services)
    {
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<ExceptionInterceptor>();
            o.EnableDetailedErrors = false;
        });
        services.AddGrpcHealthChecks(); // reports the same checks as /health
        services.AddGrpcReflection();
        services.AddSingleton(TimeProvider.System);
        return services;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter(TelemetrySources);
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(builder.Environment.ApplicationName)
                    .AddSource(TelemetrySources)
                    .AddAspNetCoreInstrumentation(o =>
                        // Health probes would drown the traces that matter.
                        o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health") && !ctx.Request.Path.StartsWithSegments("/alive"))
                    .AddGrpcClientInstrumentation()
                    .AddHttpClientInstrumentation();
            });

        // OTLP only when an endpoint is configured (the AppHost sets it for the dashboard).
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            builder.Services.AddOpenTelemetry().UseOtlpExporter();

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>/health (every check) and /alive (liveness only) on the HTTP/1.1 endpoint, gRPC health and reflection.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/health");
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") });
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
