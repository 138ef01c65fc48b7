using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cai.Streams;

/// <summary>
/// The tracing source and meter of the stream transport, both named <c>Cai.Streams</c>: add that
/// name to OpenTelemetry's tracer and meter providers to see publish/process spans and the
/// published, acked, reclaimed and dead-lettered counters in the dashboard.
/// </summary>
public static class StreamsTelemetry
{
    /// <summary>The name of the <see cref="ActivitySource"/> and of the <see cref="Meter"/>.</summary>
    public const string Name = "Cai.Streams";

    /// <summary>Producer ("publish") and consumer ("process") activities.</summary>
    public static ActivitySource ActivitySource { get; } = new(Name);

    /// <summary>Counters of the transport; every measurement carries the stream's run-independent name (and group where there is one).</summary>
    public static Meter Meter { get; } = new(Name);

    internal static readonly Counter<long> Published =
        Meter.CreateCounter<long>("cai.streams.published", "{entry}", "Items appended to a stream (first publication of an item id).");

    internal static readonly Counter<long> Duplicates =
        Meter.CreateCounter<long>("cai.streams.duplicates", "{entry}", "Publications skipped because the item id was already in the stream.");

    internal static readonly Counter<long> Acked =
        Meter.CreateCounter<long>("cai.streams.acked", "{entry}", "Entries acknowledged after their handler succeeded.");

    internal static readonly Counter<long> Reclaimed =
        Meter.CreateCounter<long>("cai.streams.reclaimed", "{entry}", "Pending entries taken over (XAUTOCLAIM) after the claim idle timeout.");

    internal static readonly Counter<long> DeadLettered =
        Meter.CreateCounter<long>("cai.streams.dead_lettered", "{entry}", "Entries moved to the dead-letter stream and acked on the source.");

    internal static readonly Counter<long> HandlerFailures =
        Meter.CreateCounter<long>("cai.streams.handler_failures", "{entry}", "Handler runs that threw (the entry stays pending for a retry).");

    internal static readonly Counter<long> BackpressureWaits =
        Meter.CreateCounter<long>("cai.streams.backpressure_waits", "{wait}", "Times a producer waited because a consumer group's lag was at its bound.");

    internal static KeyValuePair<string, object?> StreamTag(string name) => new("cai.streams.stream", name);

    internal static KeyValuePair<string, object?> GroupTag(string group) => new("cai.streams.group", group);
}
