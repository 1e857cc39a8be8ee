using System.Runtime.InteropServices;
using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// What the watch keeps of a Deployment between its events: what <see cref="DeploymentWatcher"/> reads of it and nothing
/// else (as client-go's informers drop fields with a transform). Its name and resourceVersion, the revision of its pod
/// template (<see cref="PodTemplateHash"/>) and its containers' images (a rollout request names one). The whole typed
/// object (pod spec, containers with their probes and resources, status and conditions, managedFields) was held for every
/// Deployment of a watched namespace, the targets and their stable copies: at 1,000 Canaries 45,890 model objects (4.1 MB,
/// before their strings and label dictionaries; docs/benchmarks.md, "the live set and the GC settings").
/// Until the watch first reads the revision or the images, only the pod template's JSON is kept: most events are of
/// Deployments no Canary targets (the stable copies, their status changes), which are never evaluated, and a target's
/// template is parsed once per version, as before. Not thread-safe: read under the watch's lock.
/// </summary>
public sealed class WatchedDeployment
{
    private readonly string _trackLabel;
    private byte[]? _template; // the pod template's UTF-8 JSON, until read
    private string? _revision;
    private (string Name, string? Image)[]? _containers;

    private WatchedDeployment(string name, string? resourceVersion, byte[]? template, string trackLabel) =>
        (Name, ResourceVersion, _template, _trackLabel) = (name, resourceVersion, template, trackLabel);

    public string Name { get; }

    public string? ResourceVersion { get; }

    public string Revision => _revision ?? Read().Revision;

    public IReadOnlyList<(string Name, string? Image)> Containers => _containers ?? Read().Containers;

    /// <summary>The image of the container <paramref name="container"/>, else of the first container (none: null).</summary>
    public string? ImageOf(string? container) =>
        Containers.FirstOrDefault(c => c.Name == container).Image ?? (Containers.Count > 0 ? Containers[0].Image : null);

    public static WatchedDeployment From(Sighting seen, string trackLabel)
    {
        var template = seen.Raw.ValueKind == JsonValueKind.Object && seen.Raw.TryGetProperty("spec", out var spec) && spec.ValueKind == JsonValueKind.Object
            && spec.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.Object
            ? JsonMarshal.GetRawUtf8Value(t).ToArray() : null;
        return new WatchedDeployment(seen.Name, seen.ResourceVersion, template, trackLabel);
    }

    /// <summary>Only the pod template is parsed into the typed model, the one the revision is worked out from when the
    /// target is read whole (initialisation, the workload controller): the same revision either way. Then the JSON goes.</summary>
    private (string Revision, (string Name, string? Image)[] Containers) Read()
    {
        var template = _template is null ? null : KubernetesJson.Deserialize<V1PodTemplateSpec>(new MemoryStream(_template));
        _containers = template?.Spec?.Containers?.Select(c => (c.Name, (string?)c.Image)).ToArray() ?? [];
        _revision = PodTemplateHash.Compute(template, _trackLabel);
        _template = null;
        return (_revision, _containers);
    }
}
