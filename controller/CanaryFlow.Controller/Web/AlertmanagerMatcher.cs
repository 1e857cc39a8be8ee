using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Web;

/// <summary>A rollout to abort because of a firing alert.</summary>
public sealed record AlertAbort(RolloutTarget Target, string AlertName, string Reason);

/// <summary>
/// Which rollouts a payload's firing alerts name. An alert names a canary by a <c>canary="ns/name"</c>
/// label, or by its workload (destination_workload, workload or deployment) with a namespace
/// (destination_workload_namespace or namespace). The canary workload is the target's own name;
/// "&lt;name&gt;-primary" is the stable and "&lt;name&gt;-baseline" a copy of it: alerts about those must
/// not abort anything. Resolved alerts never abort.
/// </summary>
public static class AlertmanagerMatcher
{
    private static readonly string[] WorkloadLabels = ["destination_workload", "workload", "deployment"];
    private static readonly string[] NamespaceLabels = ["destination_workload_namespace", "namespace"];

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

    /// <summary>One abort per named rollout, the first firing alert naming it gives the reason.</summary>
    public static IReadOnlyList<AlertAbort> Match(AlertmanagerPayload payload)
    {
        var aborts = new Dictionary<RolloutTarget, AlertAbort>();
        foreach (var alert in payload.Alerts ?? [])
        {
            if (alert.Status != "firing" || alert.Labels is null) continue;
            if (TargetOf(alert.Labels) is not { } target || aborts.ContainsKey(target)) continue;
            var name = alert.Labels.GetValueOrDefault("alertname") ?? "unnamed";
            var summary = alert.Annotations?.GetValueOrDefault("summary") ?? alert.Annotations?.GetValueOrDefault("description");
            aborts[target] = new AlertAbort(target, name, $"alert {name} firing" + (summary is null ? "" : $": {summary}"));
        }
        return [.. aborts.Values];
    }

    private static RolloutTarget? TargetOf(Dictionary<string, string> labels)
    {
        if (labels.TryGetValue("canary", out var canary)) return RolloutTarget.TryParse(canary);
        var workload = WorkloadLabels.Select(labels.GetValueOrDefault).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
        var ns = NamespaceLabels.Select(labels.GetValueOrDefault).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
        if (workload is null || ns is null) return null;
        if (WorkloadNames.IsCopy(workload)) return null;
        return new RolloutTarget(ns, workload);
    }
}
