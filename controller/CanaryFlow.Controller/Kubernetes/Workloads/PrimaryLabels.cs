using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// The labels that keep the primary's pods apart from the target's, as Flagger does it: every label of the target's
/// selector gets the value <c>&lt;value&gt;-primary</c> on the primary's pods (<c>app: checkout</c> becomes
/// <c>app: checkout-primary</c>), so neither the target's Deployment selector nor its HPA (which counts the pods its
/// target's selector matches) sees them. Both sides carry <see cref="TargetLabel"/> (<c>canaryflow.dev/target:
/// checkout</c>), which the service's Service selects, so that Istio's stable/canary subsets (by the track label) still
/// find both behind the one host.
/// </summary>
public static class PrimaryLabels
{
    public const string TargetLabel = "canaryflow.dev/target";

    /// <summary>The primary's selector: the target's matchLabels rewritten, the target label and the stable track.</summary>
    public static Dictionary<string, string> Selector(V1Deployment target, string trackLabel)
    {
        var selector = Rewritten(target.Spec.Selector?.MatchLabels);
        selector[TargetLabel] = target.Metadata.Name;
        selector[trackLabel] = "stable";
        return selector;
    }

    /// <summary>The target's pod template as the primary runs it: its selector's labels rewritten, plus the target label
    /// and the stable track.</summary>
    public static V1PodTemplateSpec Template(V1Deployment target, string trackLabel) => Relabel(target.Spec.Template, target, trackLabel);

    /// <summary>A pod template (the target's, or an old primary's) under the primary's labels.</summary>
    public static V1PodTemplateSpec Relabel(V1PodTemplateSpec template, V1Deployment target, string trackLabel)
    {
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(template));
        copy.Metadata ??= new V1ObjectMeta();
        copy.Metadata.Labels ??= new Dictionary<string, string>();
        foreach (var (key, value) in Rewritten(target.Spec.Selector?.MatchLabels)) copy.Metadata.Labels[key] = value;
        copy.Metadata.Labels[TargetLabel] = target.Metadata.Name;
        copy.Metadata.Labels[trackLabel] = "stable";
        return copy;
    }

    /// <summary>The service's Service selector: both sides, told apart by the DestinationRule's subsets.</summary>
    public static Dictionary<string, string> ServiceSelector(string targetName) => new() { [TargetLabel] = targetName };

    /// <summary>True for a primary made by CanaryFlow before the primary labels: the target's selector matches its pods
    /// (and so would the target's HPA). Such a primary is replaced (<see cref="PrimaryMigration"/>).</summary>
    public static bool Overlaps(V1Deployment target, V1Deployment primary)
    {
        var labels = primary.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>();
        var matchLabels = target.Spec.Selector?.MatchLabels;
        return matchLabels is { Count: > 0 } && matchLabels.All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value);
    }

    /// <summary>The primary's template given back to the target on deletion of the Canary: the target's selector labels
    /// as the target has them (a Deployment's template must match its selector).</summary>
    public static V1PodTemplateSpec ForTarget(V1PodTemplateSpec primaryTemplate, V1Deployment target)
    {
        var copy = KubernetesJson.Deserialize<V1PodTemplateSpec>(KubernetesJson.Serialize(primaryTemplate));
        copy.Metadata ??= new V1ObjectMeta();
        copy.Metadata.Labels ??= new Dictionary<string, string>();
        foreach (var (key, value) in target.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>()) copy.Metadata.Labels[key] = value;
        return copy;
    }

    private static Dictionary<string, string> Rewritten(IDictionary<string, string>? matchLabels) =>
        (matchLabels ?? new Dictionary<string, string>()).ToDictionary(l => l.Key, l => Suffixed(l.Value));

    /// <summary>Label values are at most 63 characters: a long value is cut to make room for the suffix.</summary>
    private static string Suffixed(string value) => (value.Length > 55 ? value[..55].TrimEnd('-', '_', '.') : value) + "-primary";
}
