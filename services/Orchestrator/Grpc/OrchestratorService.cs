using Cai.Protos.V1;
using Cai.Services.Orchestrator.Runs;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Cai.ServiceDefaults.Probe;
using Cai.Streams;
using Grpc.Core;
using StackExchange.Redis;
using System.Diagnostics;
using System.Text.Json;

namespace Cai.Services.Orchestrator.Grpc;

/// <summary>
/// The orchestrator service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class
/// does that), and Info reports which are live.
/// </summary>
public sealed class OrchestratorService(RedisConnection redis, RunManager runs, OrchestratorOptions options)
    : Cai.Protos.V1.Orchestrator.OrchestratorBase
{
    /// <summary>Starts a run (or answers with the state of the existing run of that id, resuming it when nobody drives it).</summary>
    public override async Task<RunState> StartRun(StartRunRequest request, ServerCallContext context)
    {
        RequireRedis();
        var (state, dir) = await runs.StartAsync(request.RunId, string.IsNullOrWhiteSpace(request.Profile) ? "default" : request.Profile,
            [.. request.Overrides], context.CancellationToken);
        return ToMessage(state, dir);
    }

    public override async Task<RunState> GetRun(GetRunRequest request, ServerCallContext context)
    {
        RequireRedis();
        if (string.IsNullOrWhiteSpace(request.RunId)) throw new ArgumentException("must name a run", "run_id");
        var found = await runs.GetAsync(request.RunId, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"run_id: no run '{request.RunId}'"));
        return ToMessage(found.State, found.RunDir);
    }

    /// <summary>The run's state now and after every change, until it is done or failed (or the client goes away).</summary>
    public override async Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunState> responseStream, ServerCallContext context)
    {
        RequireRedis();
        if (string.IsNullOrWhiteSpace(request.RunId)) throw new ArgumentException("must name a run", "run_id");
        var ct = context.CancellationToken;
        DateTimeOffset? seen = null;
        while (!ct.IsCancellationRequested)
        {
            var found = await runs.GetAsync(request.RunId, ct)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"run_id: no run '{request.RunId}'"));
            if (found.State.UpdatedUtc != seen)
            {
                seen = found.State.UpdatedUtc;
                await responseStream.WriteAsync(ToMessage(found.State, found.RunDir), ct);
                if (found.State.IsFinished) return;
            }
            await Task.Delay(options.PollInterval, ct);
        }
    }

    private void RequireRedis()
    {
        if (!redis.IsConfigured) throw new RpcException(new Status(StatusCode.FailedPrecondition, "the orchestrator has no Redis connection (ConnectionStrings:redis)"));
    }

    /// <summary>The wire form of a run's state.</summary>
    public static RunState ToMessage(Cai.Pipeline.RunState state, string? runDir)
    {
        var message = new RunState
        {
            RunId = state.RunId,
            Status = Name(state.Status),
            ReportPath = state.ReportPath ?? "",
            Message = state.Message ?? "",
            RunDir = runDir ?? "",
        };
        foreach (var s in state.Stages)
        {
            var stage = new StageState
            {
                Name = s.Name, Status = Name(s.Status), ItemsDone = s.DoneItems, ItemsTotal = s.TotalItems, Message = s.Message ?? "", Seconds = s.Seconds,
            };
            foreach (var (key, value) in s.Artifacts ?? new Dictionary<string, string>()) stage.Artifacts[key] = value;
            message.Stages.Add(stage);
        }
        return message;
    }

    private static string Name(Cai.Pipeline.RunStatus status) => status.ToString().ToLowerInvariant();

    private static readonly ActivitySource Source = new("Cai.Orchestrator");

    /// <summary>The stage services a probe addresses when the request names none.</summary>
    public static readonly string[] StageServices = ["generation", "critique", "sft", "labeling", "preference-model", "ppo"];

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("orchestrator", Cai.Protos.V1.Orchestrator.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }

    public override async Task<ProbeStreamsResponse> ProbeStreams(ProbeStreamsRequest request, ServerCallContext context)
    {
        if (request.TimeoutMs < 0)
            throw new ArgumentException("must be >= 0 (0 means 10 seconds)", "timeout_ms");
        string[] services = request.Services.Count > 0 ? [.. request.Services] : StageServices;
        if (services.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException("service names must not be empty", "services");
        var timeout = TimeSpan.FromMilliseconds(request.TimeoutMs > 0 ? request.TimeoutMs : 10_000);
        var db = redis.Multiplexer.GetDatabase();
        string probeId = Guid.NewGuid().ToString("N");

        using var activity = Source.StartActivity("probe streams");
        var response = new ProbeStreamsResponse { ProbeId = probeId, TraceId = activity?.TraceId.ToString() ?? "" };
        var started = Stopwatch.StartNew();
        var sentAt = DateTimeOffset.UtcNow;
        // Replies are read from the reply stream's current end onwards.
        var newest = await db.StreamRangeAsync(StreamProbe.Replies.Key, "-", "+", count: 1, messageOrder: Order.Descending);
        foreach (string service in services)
            await new StreamProducer<ProbeItem>(db, StreamProbe.RequestsFor(service))
                .PublishAsync(new ProbeItem(probeId, service, sentAt), context.CancellationToken);

        var pending = new HashSet<string>(services);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        cts.CancelAfter(timeout);
        string from = newest.Length > 0 ? newest[0].Id.ToString() : "0-0";
        try
        {
            while (pending.Count > 0)
            {
                var entries = await db.StreamRangeAsync(StreamProbe.Replies.Key, minId: "(" + from);
                foreach (var entry in entries)
                {
                    from = entry.Id!;
                    var reply = JsonSerializer.Deserialize<ProbeReplyItem>((string)entry[EntryFields.Data]!, StreamProbe.Replies.Json);
                    if (reply is null || reply.ProbeId != probeId || !pending.Remove(reply.Service)) continue;
                    response.Replies.Add(new ProbeReply
                    {
                        Service = reply.Service,
                        Host = reply.Host,
                        ProcessId = reply.ProcessId,
                        RoundTripMs = started.Elapsed.TotalMilliseconds,
                        TraceId = reply.TraceId,
                    });
                }
                if (pending.Count > 0) await Task.Delay(50, cts.Token);
            }
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            // Timed out: the services that did not answer are listed as missing.
        }
        response.Missing.AddRange(pending.Order());
        return response;
    }
}
