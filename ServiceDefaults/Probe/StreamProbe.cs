using Cai.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Diagnostics;

namespace Cai.ServiceDefaults.Probe;

/// <summary>A probe sent to one service through its Redis stream.</summary>
public sealed record ProbeItem(string ProbeId, string Service, DateTimeOffset SentAt);

/// <summary>What a service answers: who handled the probe, and the trace it saw on the entry.</summary>
public sealed record ProbeReplyItem(
    string ProbeId, string Service, string Host, int ProcessId, string TraceId, DateTimeOffset SentAt, DateTimeOffset RepliedAt);

/// <summary>
/// The data-plane probe: the orchestrator publishes one item per service to that service's probe
/// stream; each service's consumer group handles it and publishes a reply. It exercises exactly what
/// the pipeline's stages use (consumer groups, ack, idempotent publish, trace context in entries).
/// </summary>
public static class StreamProbe
{
    /// <summary>Probe streams live under the run id "system", apart from every real run's keys.</summary>
    public const string RunId = "system";

    public static ItemStream<ProbeItem> RequestsFor(string service) =>
        ItemStream<ProbeItem>.ForRun(RunId, $"probe-{service}", p => p.ProbeId);

    public static ItemStream<ProbeReplyItem> Replies { get; } =
        ItemStream<ProbeReplyItem>.ForRun(RunId, "probe-replies", r => $"{r.ProbeId}/{r.Service}");
}

/// <summary>
/// Runs in every service that knows its name (Cai:ServiceName, set by the AppHost) and has Redis:
/// answers probes addressed to that service. Replicas share the service's consumer group.
/// </summary>
public sealed class StreamProbeResponder(RedisConnection redis, IConfiguration configuration, ILogger<StreamProbeResponder> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string? service = configuration["Cai:ServiceName"];
        if (!redis.IsConfigured || string.IsNullOrWhiteSpace(service))
        {
            logger.LogInformation("Stream probe responder idle: {Reason}", redis.IsConfigured ? "no Cai:ServiceName" : "no Redis configured");
            return;
        }
        var db = redis.Multiplexer.GetDatabase();
        var replies = new StreamProducer<ProbeReplyItem>(db, StreamProbe.Replies);
        var worker = new StreamWorker<ProbeItem>(db, StreamProbe.RequestsFor(service),
            new StreamWorkerOptions { Group = service, PollInterval = TimeSpan.FromMilliseconds(100) },
            async (item, ct) =>
            {
                string traceId = Activity.Current?.TraceId.ToString() ?? "";
                await replies.PublishAsync(new ProbeReplyItem(item.Value.ProbeId, service, Environment.MachineName,
                    Environment.ProcessId, traceId, item.Value.SentAt, DateTimeOffset.UtcNow), ct);
                logger.LogInformation("Answered stream probe {ProbeId}", item.Value.ProbeId);
            }, logger);
        try
        {
            await worker.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
