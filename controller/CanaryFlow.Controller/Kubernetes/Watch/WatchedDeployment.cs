using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// What the watch keeps of a Deployment between its events: what <see cref="DeploymentWatcher"/> reads of it and nothing
/// else (as client-go's informers drop fields with a transform). Its name and resourceVersion, the revision of its pod
/// template (<see cref="PodTemplateHash"/>, worked out once as the event comes in, not at each evaluation), and its
/// containers' images (a rollout request names one). The whole typed object (pod spec, containers with their probes and
/// resources, status and conditions, managedFields) was ~3 KB per Deployment, held for every Deployment of a watched
/// namespace: the targets and their stable copies.
/// </summary>
public sealed record WatchedDeployment(string Name, string? ResourceVersion, string Revision, IReadOnlyList<(string Name, string? Image)> Containers)
{
    /// <summary>The image of the container <paramref name="container"/>, else of the first container (none: null).</summary>
    public string? ImageOf(string? container) =>
        Containers.FirstOrDefault(c => c.Name == container).Image ?? (Containers.Count > 0 ? Containers[0].Image : null);

    /// <summary>Only the pod template is parsed into the typed model, the one the revision is worked out from when the
    /// target is read whole (initialisation, the workload controller): the same revision either way.</summary>
    public static WatchedDeployment From(Sighting seen, string trackLabel)
    {
        var template = seen.Raw.TryGetProperty("spec", out var spec) && spec.ValueKind == JsonValueKind.Object
            && spec.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.Object
            ? KubernetesJson.Deserialize<V1PodTemplateSpec>(t.GetRawText()) : null;
        var containers = template?.Spec?.Containers?.Select(c => (c.Name, (string?)c.Image)).ToArray() ?? [];
        return new WatchedDeployment(seen.Name, seen.ResourceVersion, PodTemplateHash.Compute(template, trackLabel), containers);
    }
}
