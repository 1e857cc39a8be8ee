using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>The Deployments CanaryFlow runs beside the target, each with pods of its own.</summary>
public enum PodCopy
{
    /// <summary><c>&lt;name&gt;-primary</c>, the stable version.</summary>
    Primary,
    /// <summary><c>&lt;name&gt;-baseline</c>, a fresh copy of the stable version to compare the canary with.</summary>
    Baseline,
    /// <summary><c>&lt;name&gt;-primary-handover</c>, which serves while an earlier version's primary is replaced.</summary>
    Handover,
}

/// <summary>
/// The labels that keep each Deployment's pods apart, as Flagger does it: every label of the target's selector gets the
/// value <c>&lt;value&gt;-primary</c> on the primary's pods (<c>app: checkout</c> becomes <c>app: checkout-primary</c>),
/// so neither the target's Deployment selector nor its HPA (which counts the pods its target's selector matches) sees
/// them. The baseline and hand-over copies get <c>-baseline</c> and <c>-handover</c> in the same way, so the primary's
/// selector (and so its HPA copy) counts none of theirs either. All of them carry <see cref="TargetLabel"/>
/// (<c>canaryflow.dev/target: checkout</c>), which the service's Service selects, and the copies the stable track, so
/// Istio's stable subset (by the track label) still sends them stable's traffic, and Istio still reports each under its
/// Deployment's name (destination_workload), which is how the analysis finds the baseline.
/// </summary>
public static class PrimaryLabels
{
    public const string TargetLabel = "canaryflow.dev/target";
    /// <summary>Marks the baseline's and the hand-over's pods (and kept out of the primary's).</summary>
    public const string BaselineLabel = "canaryflow.dev/baseline";
    public const string HandoverLabel = "canaryflow.dev/handover";

    /// <summary>A copy's selector: its pod labels (<see cref="PodLabels"/>) without the removed ones. The primary's is
    /// the target's matchLabels rewritten, the target label and the stable track, as it has always been (a selector
    /// cannot change).</summary>
    public static Dictionary<string, string> Selector(V1Deployment target, string trackLabel, PodCopy copy = PodCopy.Primary) =>
        PodLabels(target, trackLabel, copy).Where(l => l.Value is not null).ToDictionary(l => l.Key, l => l.Value!);

    /// <summary>A pod template (the target's, the primary's or a hand-over's) as <paramref name="copy"/>'s pods carry it.</summary>
    public static V1PodTemplateSpec Template(V1PodTemplateSpec template, V1Deployment target, string trackLabel, PodCopy copy = PodCopy.Primary) =>
        PodTemplates.Copy(template, PodLabels(target, trackLabel, copy));

    /// <summary>The labels <paramref name="copy"/>'s pods carry; a null value is a label they must not carry (the other
    /// copies' marks, when a template comes from one of them).</summary>
    private static Dictionary<string, string?> PodLabels(V1Deployment target, string trackLabel, PodCopy copy)
    {
        var suffix = copy switch { PodCopy.Baseline => "-baseline", PodCopy.Handover => "-handover", _ => "-primary" };
        var labels = (target.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>()).ToDictionary(l => l.Key, l => (string?)Suffixed(l.Value, suffix));
        labels[TargetLabel] = target.Metadata.Name;
        labels[trackLabel] = "stable";
        labels[BaselineLabel] = copy == PodCopy.Baseline ? "true" : null;
        labels[HandoverLabel] = copy == PodCopy.Handover ? "true" : null;
        return labels;
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
    /// as the target has them (a Deployment's template must match its selector), without the track label unless
    /// <paramref name="keepTrack"/>.</summary>
    public static V1PodTemplateSpec ForTarget(V1PodTemplateSpec primaryTemplate, V1Deployment target, string trackLabel, bool keepTrack)
    {
        var labels = (target.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>()).ToDictionary(l => l.Key, l => (string?)l.Value);
        if (!keepTrack) labels[trackLabel] = null;
        return PodTemplates.Copy(primaryTemplate, labels);
    }

    /// <summary>Label values are at most 63 characters: a long value is cut to make room for the suffix.</summary>
    private static string Suffixed(string value, string suffix) =>
        (value.Length > 63 - suffix.Length ? value[..(63 - suffix.Length)].TrimEnd('-', '_', '.') : value) + suffix;
}
