using System.Collections.Concurrent;
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
    private readonly ConcurrentDictionary<string, long> _byMethod = new(StringComparer.Ordinal);

    public ApiRequestMeter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Microsoft.AspNetCore.Hosting" && instrument.Name == "http.server.request.duration")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            var (api, method) = (false, "?");
            foreach (var tag in tags)
                if (tag.Key == "http.route" && tag.Value as string == "/{**path}") api = true;
                else if (tag.Key == "http.request.method" && tag.Value is string m) method = m;
            if (!api) return;
            Interlocked.Increment(ref _requests);
            _byMethod.AddOrUpdate(method, 1, (_, n) => n + 1);
        });
        _listener.Start();
    }

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests so far per HTTP method (GET, PUT, PATCH, POST, DELETE): which kind of call a figure per transition is made of.</summary>
    public IReadOnlyDictionary<string, long> ByMethod() => new Dictionary<string, long>(_byMethod);

    public void Dispose() => _listener.Dispose();
}
