using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// The one way a pod template goes from one Deployment to another: the target's to the primary (creation, promotion),
/// the primary's to the baseline and the hand-over copy, the hand-over's to a new primary, the primary's back to the
/// target (deletion of the Canary). Which labels each side carries is <see cref="PrimaryLabels"/>' business.
/// </summary>
public static class PodTemplates
{
    /// <summary>A deep copy (the source object is never changed) with <paramref name="labels"/> set; a null value
    /// removes that label (a copy made from another copy must not keep that copy's mark).</summary>
    public static V1PodTemplateSpec Copy(V1PodTemplateSpec? template, IEnumerable<KeyValuePair<string, string?>> labels)
    {
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(template ?? new V1PodTemplateSpec()));
        copy.Metadata ??= new V1ObjectMeta();
        copy.Metadata.Labels ??= new Dictionary<string, string>();
        foreach (var (key, value) in labels)
            if (value is null) copy.Metadata.Labels.Remove(key);
            else copy.Metadata.Labels[key] = value;
        return copy;
    }
}
