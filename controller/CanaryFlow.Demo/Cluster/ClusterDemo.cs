using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Demo.Stories;
using k8s;

namespace CanaryFlow.Demo.Cluster;

/// <summary>
/// The demo against a real cluster, step by step (<see cref="RunAsync"/> runs them all): check the CRDs and
/// Prometheus, apply the demo's objects, run the controller in this process against the same kubeconfig (leader
/// election on), wait until it has initialised every Canary and Istio reports traffic, release, follow the
/// stories live, print the summary, and delete what was created. The Kubernetes client is the controller's own
/// (Polly retries, circuit breaker, timeouts), as is the Prometheus client.
/// </summary>
public sealed class ClusterDemo : IDisposable
{
    private readonly PrometheusClient _prometheus;

    public ClusterDemo(ClusterDemoOptions options, IReadOnlyList<DemoStory>? stories = null)
    {
        Options = options;
        Stories = stories ?? DemoStory.All;
        try
        {
            Client = KubernetesClientFactory.Create(Microsoft.Extensions.Options.Options.Create(
                new KubernetesOptions { KubeconfigPath = options.KubeconfigPath, Context = options.Context }), TimeProvider.System, new WriteFence(open: true));
        }
        catch (KubernetesConfigurationException e)
        {
            throw new ClusterDemoException($"{e.Message} (check it with: kubectl --kubeconfig {options.KubeconfigPath} config view)", e);
        }
        _prometheus = new PrometheusClient(new PrometheusOptions { Address = options.PrometheusUrl.ToString() }, TimeProvider.System);
        Objects = new ClusterObjects(Client, options, Stories);
    }

    public ClusterDemoOptions Options { get; }
    public IReadOnlyList<DemoStory> Stories { get; }
    public IKubernetes Client { get; }
    public ClusterObjects Objects { get; }

    /// <summary>Istio's standard metrics as the destination sidecar reports them, for this namespace only.</summary>
    private string Selector => $"reporter=\"destination\",destination_workload_namespace=\"{Options.Namespace}\"";

    public Task PreflightAsync(CancellationToken ct) => ClusterPreflight.CheckAsync(Client, Options.Namespace, _prometheus, Options.PrometheusUrl, ct);

    /// <summary>The load generator stops at the end of the run's time limit, counted from now.</summary>
    public Task ApplyAsync(CancellationToken ct) => Objects.ApplyAsync(DateTimeOffset.UtcNow + Options.Timeout, ct);

    /// <summary>The controller's settings: this kubeconfig, this namespace, leader election on with the Lease beside
    /// the demo (so cleanup finds it), and Prometheus at the given URL.</summary>
    public IReadOnlyDictionary<string, string?> ControllerSettings() => new Dictionary<string, string?>
    {
        ["Kubernetes:KubeconfigPath"] = Options.KubeconfigPath,
        ["Kubernetes:Context"] = Options.Context,
        ["Kubernetes:Namespaces:0"] = Options.Namespace,
        ["Kubernetes:LeaderElection"] = "true",
        ["Kubernetes:LeaseName"] = ClusterObjects.LeaseName,
        ["Kubernetes:LeaseNamespace"] = Options.Namespace,
        ["Kubernetes:PollInterval"] = Options.PollInterval.ToString("c"),
        ["Prometheus:Address"] = Options.PrometheusUrl.ToString(),
    };

    public Task<DemoController> StartControllerAsync(string workDirectory, Action<IServiceCollection>? configureServices, CancellationToken ct) =>
        DemoController.StartAsync(Options.Bus, workDirectory, ControllerSettings(), configureServices, ct);

    /// <summary>Until every Canary has its stable copy, routing and status (bounded by <paramref name="ct"/>); prints what it waits for when that changes.</summary>
    public async Task WaitInitializedAsync(CancellationToken ct)
    {
        var last = "";
        while (await Objects.NotReadyAsync(ct) is { Count: > 0 } waiting)
        {
            var now = string.Join(", ", waiting);
            if (now != last) Console.WriteLine($"{DateTime.Now:HH:mm:ss} waiting for the controller to initialise: {last = now}");
            await Task.Delay(Options.PollInterval, ct);
        }
        Console.WriteLine($"{DateTime.Now:HH:mm:ss} every Canary initialised: <name>-primary serves, the VirtualService sends it 100%");
    }

    /// <returns>False when Prometheus saw no Istio requests from the namespace within <see cref="ClusterDemoOptions.TelemetryWait"/>
    /// (the releases then go ahead, and their analysis reports "no data", which never passes).</returns>
    public async Task<bool> WaitForTelemetryAsync(CancellationToken ct)
    {
        var until = DateTime.UtcNow + Options.TelemetryWait;
        Console.WriteLine($"{DateTime.Now:HH:mm:ss} waiting up to {Options.TelemetryWait.TotalSeconds:F0} s for Istio's request metrics from {Options.Namespace} in Prometheus");
        while (true)
        {
            try
            {
                var seen = await _prometheus.QueryAsync($"sum(rate(istio_requests_total{{{Selector}}}[1m]))", null, ct);
                if (seen.Vector.Any(s => s.Point.Value > 0)) return true;
            }
            catch (Exception e) when (e is not OperationCanceledException) { } // Prometheus answered the preflight: a hiccup, try again
            if (DateTime.UtcNow >= until)
            {
                Console.WriteLine($"No Istio telemetry from {Options.Namespace} yet: check that the pods have an istio-proxy sidecar " +
                                  $"(kubectl -n {Options.Namespace} get pods: 2/2 ready) and that Prometheus scrapes the sidecars. " +
                                  "The releases go ahead; without data their analysis is inconclusive and never passes.");
                return false;
            }
            await Task.Delay(Options.PollInterval * 5, ct);
        }
    }

    public MeshFigures Figures() => new(_prometheus, "1m", Selector);

    public void Dispose() => _prometheus.Dispose();
}
