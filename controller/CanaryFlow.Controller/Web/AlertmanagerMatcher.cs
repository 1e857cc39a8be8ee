using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Web;

/// <summary>A rollout to abort because of a firing alert.</summary>
public sealed record AlertAbort(RolloutTarget Target, string AlertName, string Reason);

/// <summary>An alert that aborted nothing, and why (the receiver's answer names each one).</summary>
public sealed record IgnoredAlert(string Alert, string? Target, string Reason);

public sealed record AlertDecisions(IReadOnlyList<AlertAbort> Aborts, IReadOnlyList<IgnoredAlert> Ignored);

/// <summary>
/// Which rollouts a payload's firing alerts abort. An alert names a canary by a <c>canary="ns/name"</c>
/// label, or by its workload (destination_workload, workload or deployment) with a namespace
/// (destination_workload_namespace or namespace). The canary workload is the target's own name;
/// "&lt;name&gt;-primary" is the stable and "&lt;name&gt;-baseline" a copy of it: alerts about those must
/// not abort anything. Resolved alerts never abort, and neither does an alert whose target has no running rollout.
/// </summary>
public static class AlertmanagerMatcher
{
    private static readonly string[] WorkloadLabels = ["destination_workload", "workload", "deployment"];
    private static readonly string[] NamespaceLabels = ["destination_workload_namespace", "namespace"];

    /// <summary>The phases in which the saga takes <see cref="AbortRollout"/> (RolloutStateMachine: "Anything still running").</summary>
    public static readonly IReadOnlySet<string> AbortablePhases = new HashSet<string>(StringComparer.Ordinal)
        { RolloutPhases.Queued, RolloutPhases.Initializing, RolloutPhases.Progressing, RolloutPhases.Paused, RolloutPhases.WaitingApproval };

    /// <summary>Returns null (and a reason) when the payload is not a valid version 4 body.</summary>
    public static string? Validate(AlertmanagerPayload? payload)
    {
        if (payload is null) return "empty body";
        if (payload.Version != "4") return $"unsupported payload version '{payload.Version}', expected \"4\"";
        if (payload.Alerts is null) return "no alerts array";
        for (var i = 0; i < payload.Alerts.Count; i++)
        {
            var alert = payload.Alerts[i];
            if (alert is null) return $"alerts[{i}] is null";
            if (alert.Status is not ("firing" or "resolved")) return $"alerts[{i}].status must be firing or resolved";
            if (alert.Labels is null) return $"alerts[{i}].labels is missing";
        }
        return null;
    }

    /// <summary>
    /// One abort per running rollout that a firing alert names (the first such alert gives the reason);
    /// every other alert is listed as ignored with the reason. <paramref name="phaseOf"/> gives a target's
    /// rollout phase, or null when it has no rollout.
    /// </summary>
    public static AlertDecisions Decide(AlertmanagerPayload payload, Func<RolloutTarget, string?> phaseOf)
    {
        var aborts = new Dictionary<RolloutTarget, AlertAbort>();
        var ignored = new List<IgnoredAlert>();
        foreach (var alert in payload.Alerts ?? [])
        {
            var labels = alert.Labels ?? [];
            var name = labels.GetValueOrDefault("alertname") ?? "unnamed";
            var (target, noTarget) = TargetOf(labels);
            if (alert.Status != "firing") ignored.Add(new(name, target?.ToString(), "resolved"));
            else if (target is null) ignored.Add(new(name, null, noTarget!));
            else if (aborts.TryGetValue(target, out var first)) ignored.Add(new(name, target.ToString(), $"rollout already aborted by alert {first.AlertName}"));
            else if (phaseOf(target) is not { } phase) ignored.Add(new(name, target.ToString(), "no rollout for this target"));
            else if (!AbortablePhases.Contains(phase)) ignored.Add(new(name, target.ToString(), $"rollout is {phase}, not running"));
            else
            {
                var summary = alert.Annotations?.GetValueOrDefault("summary") ?? alert.Annotations?.GetValueOrDefault("description");
                aborts[target] = new AlertAbort(target, name, $"alert {name} firing" + (summary is null ? "" : $": {summary}"));
            }
        }
        return new([.. aborts.Values], ignored);
    }

    private static (RolloutTarget? Target, string? Why) TargetOf(Dictionary<string, string> labels)
    {
        if (labels.TryGetValue("canary", out var canary))
            return RolloutTarget.TryParse(canary) is { } named ? (named, null) : (null, $"canary label \"{canary}\" is not namespace/name");
        var workload = WorkloadLabels.Select(labels.GetValueOrDefault).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
        var ns = NamespaceLabels.Select(labels.GetValueOrDefault).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
        if (workload is null || ns is null) return (null, "no matching target: no canary label, nor workload and namespace labels");
        if (WorkloadNames.IsCopy(workload)) return (null, $"no matching target: {ns}/{workload} is a stable or baseline copy, not a canary");
        return (new RolloutTarget(ns, workload), null);
    }
}
