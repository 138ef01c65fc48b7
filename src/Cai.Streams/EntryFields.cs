using System.Diagnostics;
using StackExchange.Redis;

namespace Cai.Streams;

/// <summary>Field names of a stream entry and of a dead-letter entry (stable: other tools read them).</summary>
public static class EntryFields
{
    /// <summary>The item id (idempotency key).</summary>
    public const string ItemId = "item-id";

    /// <summary>The JSON-serialised item.</summary>
    public const string Data = "data";

    /// <summary>W3C trace context of the producer.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>W3C vendor trace state of the producer, when there is one.</summary>
    public const string TraceState = "tracestate";

    /// <summary>Dead-letter only: the last error ("Type: message").</summary>
    public const string Error = "error";

    /// <summary>Dead-letter only: the entry id in the source stream.</summary>
    public const string SourceEntryId = "source-entry-id";

    /// <summary>Dead-letter only: how many times the entry had been delivered.</summary>
    public const string Deliveries = "deliveries";

    /// <summary>Dead-letter only: the consumer group that gave up on the entry.</summary>
    public const string Group = "group";

    /// <summary>
    /// Writes the current trace context through the process-wide propagator (W3C by default;
    /// OpenTelemetry may replace it), so the consumer can continue the same trace.
    /// </summary>
    internal static void InjectTraceContext(Activity? activity, List<NameValueEntry> fields)
    {
        if (activity is null)
        {
            return;
        }
        DistributedContextPropagator.Current.Inject(activity, fields, static (carrier, name, value) =>
        {
            if (carrier is List<NameValueEntry> list && value is not null)
            {
                list.Add(new NameValueEntry(name, value));
            }
        });
    }

    internal static ActivityContext ExtractTraceContext(StreamEntry entry)
    {
        DistributedContextPropagator.Current.ExtractTraceIdAndState(entry, static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            var field = carrier is StreamEntry e ? e[name] : RedisValue.Null;
            value = field.IsNull ? null : field.ToString();
        }, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }
}
