using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Demo.Stories;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Demo.Cluster;

/// <summary>
/// The demo's objects in the cluster: creates them, starts the releases, reads how they ended, and deletes them
/// again. Cleanup deletes only what this run created (and the objects the controller made for this run's
/// Canaries), so that a namespace the user already had keeps everything else.
/// </summary>
public sealed class ClusterObjects(IKubernetes client, ClusterDemoOptions options, IReadOnlyList<DemoStory> stories)
{
    public const string LeaseName = "canaryflow-demo-leader";

    private readonly string _ns = options.Namespace;
    private readonly List<(string Kind, Func<CancellationToken, Task> Delete)> _created = [];
    private bool _createdNamespace;
    private bool _labelledNamespace;

    public async Task ApplyAsync(DateTimeOffset loadUntil, CancellationToken ct)
    {
        await EnsureNamespaceAsync(ct);
        foreach (var s in stories)
        {
            await CreateAsync("Deployment", s.Name, c => client.AppsV1.CreateNamespacedDeploymentAsync(Typed<V1Deployment>(ClusterManifests.AppDeployment(_ns, s)), _ns, cancellationToken: c),
                c => client.AppsV1.DeleteNamespacedDeploymentAsync(s.Name, _ns, cancellationToken: c), ct);
            await CreateAsync("Service", s.Name, c => client.CoreV1.CreateNamespacedServiceAsync(Typed<V1Service>(ClusterManifests.AppService(_ns, s)), _ns, cancellationToken: c),
                c => client.CoreV1.DeleteNamespacedServiceAsync(s.Name, _ns, cancellationToken: c), ct);
        }
        var load = ClusterManifests.LoadGenerator(_ns, stories, options.RequestsPerSecond, loadUntil);
        await CreateAsync("Deployment", ClusterManifests.LoadGeneratorName, c => client.AppsV1.CreateNamespacedDeploymentAsync(Typed<V1Deployment>(load), _ns, cancellationToken: c),
            c => client.AppsV1.DeleteNamespacedDeploymentAsync(ClusterManifests.LoadGeneratorName, _ns, cancellationToken: c), ct);
        foreach (var s in stories)
        {
            await CreateAsync("Canary", s.Name, c => client.CustomObjects.CreateNamespacedCustomObjectAsync(s.CanaryManifest(_ns, ClusterManifests.Port, options.Tuning),
                    CanaryResource.Group, CanaryResource.Version, _ns, CanaryResource.Plural, cancellationToken: c),
                async c =>
                {
                    // The controller has stopped by now, so its finalizer (which gives the service back on deletion) would
                    // hold the Canary for ever; the demo removes everything that finalizer would restore anyway.
                    await Gone(() => client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch),
                        CanaryResource.Group, CanaryResource.Version, _ns, CanaryResource.Plural, s.Name, cancellationToken: c));
                    // What the controller made for this Canary (on a cluster the API server would not collect them: no owner references).
                    await Gone(() => client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, _ns, CanaryResource.Plural, s.Name, cancellationToken: c));
                    await Gone(() => client.AppsV1.DeleteNamespacedDeploymentAsync(s.Name + WorkloadNames.StableSuffix, _ns, cancellationToken: c));
                    await Gone(() => client.CustomObjects.DeleteNamespacedCustomObjectAsync(Istio.Group, Istio.Version, _ns, Istio.VirtualServices, s.Name, cancellationToken: c));
                    await Gone(() => client.CustomObjects.DeleteNamespacedCustomObjectAsync(Istio.Group, Istio.Version, _ns, Istio.DestinationRules, s.Name, cancellationToken: c));
                }, ct);
        }
    }

    /// <summary>A Canary is ready when the controller has created its stable copy and routing and set its status.</summary>
    public async Task<IReadOnlyList<string>> NotReadyAsync(CancellationToken ct)
    {
        var waiting = new List<string>();
        foreach (var s in stories)
        {
            var canary = CanaryApi.ToNode(await client.CustomObjects.GetNamespacedCustomObjectAsync(
                CanaryResource.Group, CanaryResource.Version, _ns, CanaryResource.Plural, s.Name, ct));
            var ready = (canary?["status"]?["conditions"] as JsonArray ?? []).FirstOrDefault(c => (string?)c?["type"] == "Ready");
            if (canary?["status"]?["phase"] is null || (string?)ready?["status"] != "True")
                waiting.Add($"{s.Name} ({(string?)ready?["message"] ?? "not initialised yet"})");
        }
        return waiting;
    }

    /// <summary>The release: a new pod template on each story's Deployment, as a deploy pipeline would apply it.</summary>
    public async Task ReleaseAsync(CancellationToken ct)
    {
        foreach (var s in stories)
            await client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(ClusterManifests.Release(s).ToJsonString(), V1Patch.PatchType.JsonPatch), s.Name, _ns, cancellationToken: ct);
    }

    public async Task<StoryOutcome> OutcomeAsync(DemoStory s, RolloutStatusView? final, CancellationToken ct)
    {
        var primary = await Try(() => client.AppsV1.ReadNamespacedDeploymentAsync(s.Name + WorkloadNames.StableSuffix, _ns, cancellationToken: ct));
        var container = primary?.Spec.Template.Spec.Containers.FirstOrDefault();
        var vs = CanaryApi.ToNode(await Try(() => client.CustomObjects.GetNamespacedCustomObjectAsync(Istio.Group, Istio.Version, _ns, Istio.VirtualServices, s.Name, ct))) as JsonObject;
        var weight = vs is null ? 0 : VirtualServiceRoutes.Read(vs, s.Name, _ns)?.Canary ?? 0;
        return new StoryOutcome(s, final, ClusterManifests.Describe(container?.Image, container?.Args), weight);
    }

    /// <summary>Deletes, newest first, what this run created; the namespace last, and only when this run created it.</summary>
    /// <returns>What could not be deleted, and why (one failure does not stop the rest).</returns>
    public async Task<IReadOnlyList<string>> CleanupAsync(CancellationToken ct)
    {
        var problems = new List<string>();
        foreach (var (kind, delete) in Enumerable.Reverse(_created))
        {
            try { await Gone(() => delete(ct)); }
            catch (Exception e) when (e is not OperationCanceledException) { problems.Add($"could not delete a {kind}: {e.Message}"); }
        }
        _created.Clear();
        await Gone(() => client.CoordinationV1.DeleteNamespacedLeaseAsync(LeaseName, _ns, cancellationToken: ct));
        if (_createdNamespace)
        {
            await Gone(() => client.CoreV1.DeleteNamespaceAsync(_ns, cancellationToken: ct));
            Console.WriteLine($"  deleted namespace {_ns}");
        }
        else if (_labelledNamespace)
            await client.CoreV1.PatchNamespaceAsync(new V1Patch("""{"metadata":{"labels":{"istio-injection":null}}}""", V1Patch.PatchType.MergePatch), _ns, cancellationToken: ct);
        _createdNamespace = _labelledNamespace = false;
        return problems;
    }

    /// <summary>Creates the namespace with sidecar injection on, or turns injection on in the user's namespace (and off again at cleanup).</summary>
    private async Task EnsureNamespaceAsync(CancellationToken ct)
    {
        var existing = await Try(() => client.CoreV1.ReadNamespaceAsync(_ns, cancellationToken: ct));
        if (existing is null)
        {
            await client.CoreV1.CreateNamespaceAsync(Typed<V1Namespace>(ClusterManifests.Namespace(_ns)), cancellationToken: ct);
            _createdNamespace = true;
            Console.WriteLine($"  created namespace {_ns} (istio-injection: enabled)");
        }
        else if ((existing.Metadata.Labels is not { } labels || !labels.TryGetValue("istio-injection", out var injection) || injection != "enabled"))
        {
            await client.CoreV1.PatchNamespaceAsync(new V1Patch("""{"metadata":{"labels":{"istio-injection":"enabled"}}}""", V1Patch.PatchType.MergePatch), _ns, cancellationToken: ct);
            _labelledNamespace = true;
            Console.WriteLine($"  namespace {_ns} exists: turned on istio-injection");
        }
    }

    private async Task CreateAsync(string kind, string name, Func<CancellationToken, Task> create, Func<CancellationToken, Task> delete, CancellationToken ct)
    {
        try { await create(ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ClusterDemoException($"{kind} {_ns}/{name} already exists (left by a run with --keep?): " +
                                           $"delete it (kubectl delete namespace {_ns}) or pick another --namespace.", e);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest)
        {
            throw new ClusterDemoException($"The cluster refused {kind} {_ns}/{name}: {e.Response.Content}", e);
        }
        _created.Add((kind, delete));
        Console.WriteLine($"  created {kind} {_ns}/{name}");
    }

    private static T Typed<T>(JsonObject manifest) => KubernetesJson.Deserialize<T>(manifest.ToJsonString());

    /// <summary>Null when the object does not exist.</summary>
    private static async Task<T?> Try<T>(Func<Task<T>> read) where T : class
    {
        try { return await read(); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    /// <summary>Deleting what is already gone is fine.</summary>
    private static async Task Gone(Func<Task> delete)
    {
        try { await delete(); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
    }
}
