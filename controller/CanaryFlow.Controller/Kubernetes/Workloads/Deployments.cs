using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>The few Deployment operations the adapters share: read, scale, create, delete, and build the copies.</summary>
public sealed class Deployments(IKubernetes client)
{
    public const string RevisionAnnotation = "canaryflow.dev/revision";

    public async Task<V1Deployment?> TryReadAsync(string ns, string name, CancellationToken ct)
    {
        try { return await client.AppsV1.ReadNamespacedDeploymentAsync(name, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    public async Task<V1Deployment> ReadAsync(string ns, string name, CancellationToken ct) =>
        await TryReadAsync(ns, name, ct) ?? throw new InvalidOperationException($"Deployment {ns}/{name} does not exist.");

    /// <summary>Merge patch of spec.replicas only (a scale change is not a new revision).</summary>
    public Task ScaleAsync(string ns, string name, int replicas, CancellationToken ct) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } }.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct);

    /// <summary>Adds labels to the pod template (merge patch).</summary>
    public Task LabelTemplateAsync(string ns, string name, IReadOnlyDictionary<string, string> labels, CancellationToken ct) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(new JsonObject
        {
            ["spec"] = new JsonObject { ["template"] = new JsonObject { ["metadata"] = new JsonObject
            {
                ["labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
            } } },
        }.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct);

    /// <summary>Sets (or, with null, removes) the partition label of the Deployment itself, not of its pods.</summary>
    public Task SetPartitionLabelAsync(string ns, string name, string? value, CancellationToken ct) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(Hosting.Sharding.PartitionLabel.Patch(value), name, ns, cancellationToken: ct);

    /// <summary>A new <c>&lt;name&gt;-primary</c> Deployment running the target's template under the primary's labels
    /// (<see cref="PrimaryLabels"/>).</summary>
    public static V1Deployment NewPrimary(V1Deployment target, string primaryName, string revision, string trackLabel) =>
        CopyOf(target, target, primaryName, revision, trackLabel, PodCopy.Primary);

    /// <summary>A Deployment running <paramref name="source"/>'s pod template (the target's, the primary's or a hand-over's)
    /// as <paramref name="copy"/>: that copy's selector and pod labels, derived from <paramref name="target"/>'s selector.</summary>
    public static V1Deployment CopyOf(V1Deployment source, V1Deployment target, string name, string revision, string trackLabel, PodCopy copy,
        int? replicas = null)
    {
        var deployment = Copy(source, name, revision, PrimaryLabels.Selector(target, trackLabel, copy),
            PrimaryLabels.Template(source.Spec.Template, target, trackLabel, copy));
        if (replicas is { } r) deployment.Spec.Replicas = r;
        return deployment;
    }

    /// <summary>The revision a copy runs (its annotation), or "" when it has none.</summary>
    public static string Revision(V1Deployment d) =>
        d.Metadata.Annotations is { } a && a.TryGetValue(RevisionAnnotation, out var r) ? r : "";

    /// <summary>True when the two select by the same labels (a selector cannot change: a copy whose selector is not the
    /// wanted one is made anew).</summary>
    public static bool SameSelector(V1Deployment a, V1Deployment b)
    {
        var x = a.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>();
        var y = b.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>();
        return x.Count == y.Count && x.All(l => y.TryGetValue(l.Key, out var v) && v == l.Value);
    }

    public async Task DeleteAsync(string ns, string name, CancellationToken ct)
    {
        try { await client.AppsV1.DeleteNamespacedDeploymentAsync(name, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { }
    }

    /// <summary>Creates the Deployment; one that exists already (a 409: made meanwhile) is left as it is.</summary>
    public async Task CreateAsync(string ns, V1Deployment deployment, CancellationToken ct)
    {
        try { await client.AppsV1.CreateNamespacedDeploymentAsync(deployment, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
    }

    /// <summary>A Deployment like <paramref name="source"/> (strategy, deadlines, replicas at least 1) with the given
    /// name, selector and pod template.</summary>
    public static V1Deployment Copy(V1Deployment source, string name, string revision, IDictionary<string, string> matchLabels, V1PodTemplateSpec template)
    {
        var labels = new Dictionary<string, string>(source.Metadata.Labels ?? new Dictionary<string, string>()) { ["app.kubernetes.io/managed-by"] = "canaryflow" };
        labels.Remove(Hosting.Sharding.PartitionLabel.Key); // the target's own: a copy in the partition's watch would be an event nobody reads
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = source.Metadata.NamespaceProperty,
                Labels = labels,
                Annotations = new Dictionary<string, string> { [RevisionAnnotation] = revision },
            },
            Spec = new V1DeploymentSpec
            {
                Replicas = Math.Max(1, source.Spec.Replicas ?? 1),
                Selector = new V1LabelSelector { MatchLabels = matchLabels },
                Template = template,
                Strategy = source.Spec.Strategy,
                MinReadySeconds = source.Spec.MinReadySeconds,
                ProgressDeadlineSeconds = source.Spec.ProgressDeadlineSeconds,
                RevisionHistoryLimit = source.Spec.RevisionHistoryLimit,
            },
        };
    }
}
