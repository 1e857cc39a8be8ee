using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// Plays the HorizontalPodAutoscaler controller as far as it acts without a metrics API (the real kube-controller-manager
/// without metrics-server does the same): a Deployment at 0 replicas is not autoscaled (ScalingActive=False,
/// ScalingDisabled); below minReplicas it is scaled up to them, above maxReplicas down to them. Metrics-driven scaling
/// is not simulated. It acts a short while after the HPA or its Deployment changes.
/// </summary>
public sealed class AutoscalerSimulator
{
    private readonly ObjectStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _delay;

    public AutoscalerSimulator(ObjectStore store, TimeProvider time, TimeSpan delay)
    {
        (_store, _time, _delay) = (store, time, delay);
        store.Committed += OnCommitted;
    }

    private void OnCommitted(StoredEvent change)
    {
        if (change.Type == "DELETED") return;
        if (change.Kind == ResourceKinds.HorizontalPodAutoscalers)
            _ = ReconcileLaterAsync(change.Namespace, (string)change.Object["metadata"]!["name"]!);
        else if (change.Kind == ResourceKinds.Deployments)
        {
            var name = (string?)change.Object["metadata"]?["name"];
            var (hpas, _) = _store.List(ResourceKinds.HorizontalPodAutoscalers, change.Namespace, LabelSelector.Parse(null));
            foreach (var hpa in hpas.Where(h => (string?)h["spec"]?["scaleTargetRef"]?["name"] == name))
                _ = ReconcileLaterAsync(change.Namespace, (string)hpa["metadata"]!["name"]!);
        }
    }

    private async Task ReconcileLaterAsync(string ns, string hpaName)
    {
        try
        {
            await Task.Delay(_delay, _time);
            var hpa = _store.Get(ResourceKinds.HorizontalPodAutoscalers, ns, hpaName);
            var target = (string?)hpa["spec"]?["scaleTargetRef"]?["name"] ?? "";
            var deployment = _store.Get(ResourceKinds.Deployments, ns, target);
            var current = (int?)deployment["spec"]?["replicas"] ?? 1;
            var min = (int?)hpa["spec"]?["minReplicas"] ?? 1;
            var max = (int?)hpa["spec"]?["maxReplicas"] ?? current;
            var desired = current == 0 ? 0 : Math.Clamp(current, min, max);
            if (desired != current)
                _store.Patch(ResourceKinds.Deployments, ns, target, d => { d["spec"]!["replicas"] = desired; return d; }, statusOnly: false);
            var (status, reason, message) = current == 0
                ? ("False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
                : ("False", "FailedGetResourceMetric", "the sandbox has no metrics API: only minReplicas and maxReplicas are enforced");
            // A status write is a change of the HPA too: written only when it says something new, or this would never stop.
            var old = hpa["status"];
            if ((int?)old?["currentReplicas"] == current && (int?)old?["desiredReplicas"] == desired && (string?)old?["conditions"]?[0]?["reason"] == reason) return;
            hpa["status"] = new JsonObject
            {
                ["currentReplicas"] = current, ["desiredReplicas"] = desired,
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "ScalingActive", ["status"] = status, ["reason"] = reason, ["message"] = message,
                    ["lastTransitionTime"] = ObjectStore.Timestamp(_time),
                }),
            };
            _store.Update(ResourceKinds.HorizontalPodAutoscalers, ns, hpaName, hpa, statusOnly: true);
        }
        catch (ApiError) { } // deleted, or changed meanwhile: the change that did it reconciles again
    }
}
