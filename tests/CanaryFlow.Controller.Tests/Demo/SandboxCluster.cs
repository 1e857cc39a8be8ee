using System.Text.Json.Nodes;
using CanaryFlow.Demo.Cluster;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Controller.Tests.Demo;

/// <summary>A real Prometheus with nothing to scrape: it answers every query, and Istio's metrics are simply absent,
/// as on a cluster whose sidecars are not scraped.</summary>
public sealed class EmptyPrometheus : IAsyncLifetime
{
    public PrometheusProcess Process { get; private set; } = null!;

    public async Task InitializeAsync() => Process = await PrometheusProcess.StartAsync([]);

    public async Task DisposeAsync() => await Process.DisposeAsync();
}

/// <summary>The sandbox API server taken as "a cluster": reached only through its kubeconfig by the demo, read
/// through its store by the assertions.</summary>
public static class SandboxCluster
{
    public const string Ns = ClusterDemoOptions.DefaultNamespace;

    public static Task<SandboxKubernetesServer> StartAsync(IReadOnlyCollection<ResourceKind>? served = null) =>
        SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromMilliseconds(100),
            BookmarkInterval: TimeSpan.FromMilliseconds(500), Served: served));

    /// <summary>Short bounds: analysis every second, Istio telemetry awaited for one second only (there is none).</summary>
    public static ClusterDemoOptions Options(SandboxKubernetesServer sandbox, PrometheusProcess prometheus) =>
        new(sandbox.KubeconfigPath, null, Ns, prometheus.Address, Keep: false, Timeout: TimeSpan.FromMinutes(2),
            Interval: TimeSpan.FromSeconds(1), RequestsPerSecond: 10, Bus: new DemoBus(false, 5672))
        {
            TelemetryWait = TimeSpan.FromSeconds(1),
            PollInterval = TimeSpan.FromMilliseconds(100),
            CleanupTimeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>A generous safety net for one step; never an assertion on speed.</summary>
    public static CancellationToken Bounded() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    public static JsonObject? Find(SandboxKubernetesServer sandbox, ResourceKind kind, string ns, string name) =>
        sandbox.Store.List(kind, kind.Namespaced ? ns : null, LabelSelector.Parse(null), name).Items.SingleOrDefault();

    public static IEnumerable<string> Names(SandboxKubernetesServer sandbox, ResourceKind kind, string ns) =>
        sandbox.Store.List(kind, ns, LabelSelector.Parse(null)).Items.Select(i => (string)i["metadata"]!["name"]!);

    public static JsonNode Container(JsonObject deployment) => deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;

    public static string[] Strings(JsonNode? array) => array?.AsArray().Select(n => (string)n!).ToArray() ?? [];

    public static IReadOnlyList<DemoStory> Stories => DemoStory.All;
}
