using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Sandbox.Workloads;
using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// The user's setup from manifests/examples/checkout-service.yaml (Deployment, v1/v2 DestinationRule, 90/10
/// VirtualService, the adopting Canary) in a fresh namespace of the real API server, with: a fake kubelet (pods
/// Ready), the simulated mesh and a real Prometheus (traffic and metrics), a watcher recording every VirtualService
/// weight, and the controller as its own process under the chart's ServiceAccount token. Only the namespace and the
/// analysis timing differ from the example (checks every few seconds instead of every minute), so a whole rollout
/// takes seconds.
/// </summary>
public sealed class RealRollout : IAsyncDisposable
{
    public const string Service = "checkout-service";
    public const string Container = "checkout";
    public const string StableImage = "registry.example.com/shop/checkout-service:1.4.0";

    private readonly List<IAsyncDisposable> _parts = [];
    private ControllerProcess? _controller;

    private RealRollout(RealControlPlane plane, string ns, string folder) => (Plane, Namespace, Folder) = (plane, ns, folder);

    public RealControlPlane Plane { get; }
    public IKubernetes Admin => Plane.Admin;
    public string Namespace { get; }
    public string Folder { get; }
    public WeightRecorder Weights { get; private set; } = null!;
    public string ControllerLog => _controller is null ? "" : _controller.Stdout + _controller.Stderr;

    /// <param name="kubeconfig">The controller's credentials (the chart's ServiceAccount token).</param>
    /// <param name="interval">The Canary's analysis interval (the example's 1m, shortened).</param>
    /// <param name="settings">More controller settings (e.g. <c>Rollouts:MaxActive</c>).</param>
    public static async Task<RealRollout> StartAsync(RealControlPlane plane, string kubeconfig, string prefix, string interval = "2s",
        IReadOnlyDictionary<string, string>? settings = null)
    {
        await ChartInstall.EnsureExtraCrdsAsync(plane);
        var ns = await plane.NewNamespaceAsync(prefix);
        var rollout = new RealRollout(plane, ns, Directory.CreateTempSubdirectory("canaryflow-rollout-").FullName);
        try
        {
            rollout._parts.Add(await FakeKubelet.StartAsync(plane.Admin, ns));
            await rollout.ApplyExampleAsync(interval);
            rollout.Weights = WeightRecorder.Start(plane.Admin, ns, Service, canarySubset: "v2");
            rollout._parts.Add(rollout.Weights);
            var mesh = await RealServerMesh.StartAsync(plane.Admin, ns, Service, rollout.Weights, requestsPerSecond: 80);
            rollout._parts.Add(mesh);
            var prometheus = await PrometheusProcess.StartAsync(mesh.ScrapeTargets);
            rollout._parts.Add(prometheus);
            var configuration = new Dictionary<string, string>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Kubernetes:KubeconfigPath"] = kubeconfig,
                ["Kubernetes:Namespaces:0"] = ns,
                ["Kubernetes:LeaderElection"] = "true", // a Lease too, as in a cluster
                ["Kubernetes:LeaseNamespace"] = ns,
                // Long enough that a CPU-starved test machine does not make the only replica lose its own Lease.
                ["Kubernetes:LeaseDuration"] = "00:01:00",
                ["Kubernetes:RenewDeadline"] = "00:00:45",
                ["Kubernetes:PollInterval"] = "00:00:00.250",
                ["Prometheus:Address"] = prometheus.Address.ToString(),
                ["Bus:Transport"] = "InMemory",
                ["Rollouts:TickPeriod"] = "00:00:00.200",
                ["Rollouts:StateDirectory"] = Path.Combine(rollout.Folder, "state"),
                ["Observability:ReportsDirectory"] = Path.Combine(rollout.Folder, "reports"),
                ["Notifications:DataPath"] = Path.Combine(rollout.Folder, "notifications"),
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) configuration[key] = value;
            rollout._controller = ControllerProcess.Start(configuration);
            return rollout;
        }
        catch
        {
            await rollout.DisposeAsync();
            throw;
        }
    }

    /// <summary>The example as a user applies it, moved to this namespace, with a short analysis interval and fewer requests per check.</summary>
    private async Task ApplyExampleAsync(string interval)
    {
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "manifests", "examples", "checkout-service.yaml"));
        foreach (var (from, to) in new[] { ("interval: 1m", $"interval: {interval}"), ("minRequests: 50", "minRequests: 5"), ("namespace: shop", $"namespace: {Namespace}"),
                     (".shop.svc.cluster.local", $".{Namespace}.svc.cluster.local"), ("  name: shop\n", $"  name: {Namespace}\n") })
        {
            if (!text.Contains(from, StringComparison.Ordinal)) throw new InvalidOperationException($"the example no longer has '{from.Trim()}': update this test");
            text = text.Replace(from, to, StringComparison.Ordinal);
        }
        var file = Path.Combine(Folder, "checkout-service.yaml");
        await File.WriteAllTextAsync(file, text);
        var (code, output) = await Plane.KubectlAsync("apply", "-f", file);
        if (code != 0) throw new InvalidOperationException("kubectl apply of the example failed:\n" + output);
    }

    public async Task<JsonObject> CanaryAsync() =>
        (JsonObject)CanaryApi.ToNode(await Admin.CustomObjects.GetNamespacedCustomObjectAsync("canaryflow.dev", "v1alpha1", Namespace, "canaries", Service))!;

    /// <summary>Until the controller has adopted the example: checkout-service-primary available, all traffic on v1.</summary>
    /// <returns>The stable revision it recorded.</returns>
    public async Task<string> WaitInitializedAsync() => await WaitAsync("the Canary initialised", async () =>
    {
        var status = (await CanaryAsync())["status"];
        var ready = (status?["conditions"] as JsonArray ?? []).FirstOrDefault(c => (string?)c?["type"] == "Ready");
        if ((string?)ready?["status"] != "True" || Weights.Current != 0) return null;
        var primary = await Admin.AppsV1.ReadNamespacedDeploymentAsync($"{Service}-primary", Namespace);
        return primary.Status?.AvailableReplicas == primary.Spec.Replicas ? (string?)status?["stableRevision"] : null;
    });

    /// <summary>A release as the user makes one: a new image in the Deployment (kubectl set image, as admin).</summary>
    public async Task ReleaseAsync(string image)
    {
        var (code, output) = await Plane.KubectlAsync("-n", Namespace, "set", "image", $"deployment/{Service}", $"{Container}={image}");
        if (code != 0) throw new InvalidOperationException("kubectl set image failed:\n" + output);
    }

    /// <summary>Until the rollout of a revision other than <paramref name="initialRevision"/> has ended (Succeeded or Failed).</summary>
    /// <returns>The Canary's status then.</returns>
    public async Task<JsonObject> WaitRolloutEndedAsync(string initialRevision) => await WaitAsync("the rollout to end", async () =>
    {
        var status = (await CanaryAsync())["status"] as JsonObject;
        var revision = (string?)status?["canaryRevision"];
        var phase = (string?)status?["phase"];
        return revision is not null && revision != initialRevision && phase is "Succeeded" or "Failed" && Weights.Current == 0 ? status : null;
    }, TimeSpan.FromSeconds(180));

    /// <summary>Until the Canary has a condition of this type with this reason; returns it.</summary>
    public Task<JsonObject> WaitConditionAsync(string type, string reason) => WaitAsync($"condition {type} with reason {reason}", async () =>
        ((await CanaryAsync())["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(c => (string?)c["type"] == type && (string?)c["reason"] == reason));

    public async Task<string?> ImageOfAsync(string deployment) =>
        (await Admin.AppsV1.ReadNamespacedDeploymentAsync(deployment, Namespace)).Spec.Template.Spec.Containers[0].Image;

    /// <summary>Until <paramref name="probe"/> answers (bounded); a timeout says what was seen, with the controller's log.</summary>
    public async Task<T> WaitAsync<T>(string what, Func<Task<T?>> probe, TimeSpan? timeout = null) where T : class
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (DateTime.UtcNow < until)
        {
            if (_controller is { HasExited: true }) throw new InvalidOperationException($"the controller exited while waiting for {what}:\n{ControllerLog}");
            if (await probe() is { } done) return done;
            await Task.Delay(200);
        }
        throw new TimeoutException($"timed out waiting for {what}; weights so far [{string.Join(",", Weights.Weights)}] (watch error: {Weights.Failure?.Message}); status " +
                                   $"{(await CanaryAsync())["status"]?.ToJsonString()}\ncontroller log:\n{ControllerLog}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_controller is not null) await _controller.DisposeAsync();
        for (var i = _parts.Count - 1; i >= 0; i--) await _parts[i].DisposeAsync();
        await Plane.DeleteNamespaceAsync(Namespace);
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
