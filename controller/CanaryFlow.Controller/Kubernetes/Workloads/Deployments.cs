using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>The few Deployment operations the adapters share: read, scale, and build the stable copy.</summary>
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

    /// <summary>Adds a label to the pod template (merge patch).</summary>
    public Task LabelTemplateAsync(string ns, string name, string label, string value, CancellationToken ct) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(new JsonObject
        {
            ["spec"] = new JsonObject { ["template"] = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [label] = value } } } },
        }.ToJsonString(), V1Patch.PatchType.MergePatch), name, ns, cancellationToken: ct);

    /// <summary>The target's template with the stable track label, so the DestinationRule's stable subset selects its pods.</summary>
    public static V1PodTemplateSpec StableTemplate(V1PodTemplateSpec template, string trackLabel)
    {
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(template));
        copy.Metadata ??= new V1ObjectMeta();
        copy.Metadata.Labels ??= new Dictionary<string, string>();
        copy.Metadata.Labels[trackLabel] = "stable";
        return copy;
    }

    /// <summary>A new <c>&lt;name&gt;-primary</c> Deployment running the target's template.</summary>
    public static V1Deployment NewPrimary(V1Deployment target, string primaryName, string revision, string trackLabel)
    {
        var matchLabels = new Dictionary<string, string>(target.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>())
        {
            [trackLabel] = "stable",
        };
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta
            {
                Name = primaryName,
                NamespaceProperty = target.Metadata.NamespaceProperty,
                Labels = new Dictionary<string, string>(target.Metadata.Labels ?? new Dictionary<string, string>()) { ["app.kubernetes.io/managed-by"] = "canaryflow" },
                Annotations = new Dictionary<string, string> { [RevisionAnnotation] = revision },
            },
            Spec = new V1DeploymentSpec
            {
                Replicas = Math.Max(1, target.Spec.Replicas ?? 1),
                Selector = new V1LabelSelector { MatchLabels = matchLabels },
                Template = StableTemplate(target.Spec.Template, trackLabel),
                Strategy = target.Spec.Strategy,
                MinReadySeconds = target.Spec.MinReadySeconds,
                ProgressDeadlineSeconds = target.Spec.ProgressDeadlineSeconds,
                RevisionHistoryLimit = target.Spec.RevisionHistoryLimit,
            },
        };
    }
}
