using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// Watches one VirtualService on the real API server and records the canary subset's weight at every change the
/// server reports (a watch from the list's resourceVersion: no write is missed, however quickly the next follows).
/// The simulated mesh routes by <see cref="Current"/>, so traffic follows what the server holds.
/// </summary>
public sealed class WeightRecorder : IAsyncDisposable
{
    private const string Group = "networking.istio.io", Version = "v1beta1", Plural = "virtualservices";

    private readonly IKubernetes _client;
    private readonly string _ns, _name, _canarySubset;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<int> _weights = [];
    private readonly Task _loop;
    private volatile int _current;

    private WeightRecorder(IKubernetes client, string ns, string name, string canarySubset)
    {
        (_client, _ns, _name, _canarySubset) = (client, ns, name, canarySubset);
        _loop = Task.Run(LoopAsync);
    }

    public static WeightRecorder Start(IKubernetes client, string ns, string name, string canarySubset) => new(client, ns, name, canarySubset);

    public int Current => _current;

    /// <summary>Every distinct weight in order (a write that leaves the weight as it was is not a step).</summary>
    public IReadOnlyList<int> Weights { get { lock (_weights) return [.. _weights]; } }

    /// <summary>The last error the watch met (it resumed after it).</summary>
    public Exception? Failure { get; private set; }

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        var rv = "";
        // Bounded: a watch ends at its timeout or on a connection error and resumes from the last resourceVersion seen,
        // so no write is missed; only a 410 (history compacted) makes it list again.
        for (var attempt = 0; attempt < 200 && !ct.IsCancellationRequested; attempt++)
        {
            try
            {
                if (rv == "")
                {
                    var list = CanaryApi.ToNode(await _client.CustomObjects.ListNamespacedCustomObjectAsync(Group, Version, _ns, Plural, cancellationToken: ct))!;
                    foreach (var vs in list["items"]!.AsArray()) Record(vs!);
                    rv = (string)list["metadata"]!["resourceVersion"]!;
                }
                await foreach (var (type, item) in _client.CustomObjects.WatchListNamespacedCustomObjectAsync(Group, Version, _ns, Plural,
                                   resourceVersion: rv, timeoutSeconds: 60, cancellationToken: ct))
                {
                    if (type == WatchEventType.Error) { rv = ""; break; }
                    var vs = CanaryApi.ToNode(item)!;
                    rv = (string?)vs["metadata"]?["resourceVersion"] ?? rv;
                    Record(vs);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (e is HttpRequestException or IOException or k8s.Autorest.HttpOperationException or TaskCanceledException)
            {
                Failure = e; // kept for the test's message; the watch resumes
            }
            try { await Task.Delay(100, ct); } catch (OperationCanceledException) { return; }
        }
    }

    private void Record(JsonNode vs)
    {
        if ((string?)vs["metadata"]?["name"] != _name) return;
        foreach (var http in vs["spec"]?["http"]?.AsArray() ?? [])
            foreach (var route in http?["route"]?.AsArray() ?? [])
                if ((string?)route?["destination"]?["subset"] == _canarySubset)
                {
                    var weight = (int?)route["weight"] ?? 0;
                    _current = weight;
                    lock (_weights) if (_weights.Count == 0 || _weights[^1] != weight) _weights.Add(weight);
                    return;
                }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
