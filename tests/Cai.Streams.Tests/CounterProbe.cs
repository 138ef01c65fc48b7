using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Cai.Streams.Tests;

/// <summary>Sums the Cai.Streams counters measured for one stream name (other tests' streams are ignored).</summary>
internal sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public CounterProbe(string streamName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == StreamsTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "cai.streams.stream" && (string?)tag.Value == streamName)
                {
                    _totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value);
                }
            }
        });
        _listener.Start();
    }

    public long Total(string instrument) => _totals.GetValueOrDefault(instrument);

    public void Dispose() => _listener.Dispose();
}
