using System.Diagnostics;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Everything one load run stands on: the simulated cluster, a counting proxy in front of its Prometheus,
/// the sandbox API request meter, a Canary transition counter, and the controller in its own process on
/// RabbitMQ (its HTTP port fixed, so the harness can post Alertmanager alerts to it).
/// </summary>
public sealed class LoadRun : IAsyncDisposable
{
    public const string AlertmanagerToken = "load-alertmanager-token-0123456789";

    private LoadRun(SimulatedCluster cluster, PrometheusProxy proxy, ApiRequestMeter api, ControllerProcess controller, Uri controllerUrl)
    {
        Cluster = cluster;
        Proxy = proxy;
        Api = api;
        Controller = controller;
        ControllerUrl = controllerUrl;
        cluster.Store.Committed += CountTransition;
    }

    public SimulatedCluster Cluster { get; }
    public PrometheusProxy Proxy { get; }
    public ApiRequestMeter Api { get; }
    public ControllerProcess Controller { get; }
    public Uri ControllerUrl { get; }
    public Stopwatch Clock => Cluster.Clock;

    /// <summary>Changes of a Canary's phase or applied weight, as its status shows them: the saga's transitions seen from outside.</summary>
    public long Transitions;

    /// <summary>Every write the API server committed on a Canary (status writes, mostly): what a status write per tick would multiply.</summary>
    public long CanaryWrites;

    private readonly Dictionary<string, (string?, int?)> _lastStatus = [];

    private void CountTransition(StoredEvent e)
    {
        if (e.Kind != ResourceKinds.Canaries) return;
        Interlocked.Increment(ref CanaryWrites);
        var name = (string?)e.Object["metadata"]?["name"] ?? "";
        var now = ((string?)e.Object["status"]?["phase"], (int?)e.Object["status"]?["canaryWeight"]);
        lock (_lastStatus)
        {
            if (_lastStatus.TryGetValue(name, out var before) && before == now) return;
            _lastStatus[name] = now;
        }
        if (now.Item1 is not null) Interlocked.Increment(ref Transitions);
    }

    /// <param name="extra">More controller settings (e.g. Kubernetes:EvidenceWriteInterval).</param>
    public static async Task<LoadRun> StartAsync(IReadOnlyList<BenchService> services, int rabbitMqPort, string work, TimeSpan scrapeInterval,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var api = new ApiRequestMeter();
        var cluster = await SimulatedCluster.StartAsync(services, scrapeInterval: scrapeInterval);
        var proxy = await PrometheusProxy.StartAsync(cluster.Prometheus.Address, cluster.Clock);
        var port = FreePort();
        var settings = ControllerSettings.For(cluster, services[0].Namespace, rabbitMqPort, work);
        settings["urls"] = $"http://127.0.0.1:{port}";
        settings["Prometheus:Address"] = proxy.Address.ToString();
        settings["Alertmanager:BearerToken"] = AlertmanagerToken;
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) settings[k] = v;
        var controller = ControllerProcess.Start(settings, Path.Combine(work, "controller.log"));
        return new LoadRun(cluster, proxy, api, controller, new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>From every weight change to the last analysis query that read its canary before it (within one interval):
    /// the check that decided it.</summary>
    public List<double> QueryToWeightMilliseconds(IEnumerable<BenchService> services, bool rollbacksOnly = false) =>
        QueryToWeightMilliseconds(Cluster, Proxy, services, rollbacksOnly);

    public static List<double> QueryToWeightMilliseconds(SimulatedCluster cluster, PrometheusProxy proxy, IEnumerable<BenchService> services, bool rollbacksOnly = false)
    {
        var result = new List<double>();
        foreach (var s in services)
        {
            var queries = proxy.QueriedAt(s.Name);
            var changes = cluster.Weights.History(s.Name);
            for (var i = 1; i < changes.Count; i++)
            {
                // Only the changes an analysis check decides: a step up from a weight already serving, or a rollback
                // (to 0 from below the maximum). The first step follows the canary becoming available and the last
                // 0 follows the promotion's rollout, not a query; counting them measured Deployment waits.
                var (from, to) = (changes[i - 1].CanaryWeight, changes[i].CanaryWeight);
                var rollback = to == 0 && from > 0 && from < s.MaxWeight;
                if (!(rollback || (!rollbacksOnly && from > 0 && to > from))) continue;
                var before = queries.Where(q => q <= changes[i].At && q > changes[i].At - s.Interval).DefaultIfEmpty(TimeSpan.MinValue).Max();
                if (before != TimeSpan.MinValue) result.Add((changes[i].At - before).TotalMilliseconds);
            }
        }
        return result;
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Controller.Dispose();
        Api.Dispose();
        await Proxy.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
