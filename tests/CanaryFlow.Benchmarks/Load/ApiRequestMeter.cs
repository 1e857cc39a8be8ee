using System.Diagnostics.Metrics;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Counts the requests the sandbox Kubernetes API served, from ASP.NET Core's own
/// "http.server.request.duration" instrument in this process (no change to the sandbox): only requests
/// routed to its API catch-all "/{**path}", so the metrics exporter, the proxies and the controls do not count.
/// A watch counts once, when it ends.
/// </summary>
public sealed class ApiRequestMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _requests;

    public ApiRequestMeter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Microsoft.AspNetCore.Hosting" && instrument.Name == "http.server.request.duration")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "http.route" && tag.Value as string == "/{**path}") { Interlocked.Increment(ref _requests); return; }
        });
        _listener.Start();
    }

    public long Requests => Interlocked.Read(ref _requests);

    public void Dispose() => _listener.Dispose();
}
