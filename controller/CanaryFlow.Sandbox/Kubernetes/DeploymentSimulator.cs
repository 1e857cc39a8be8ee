using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// Plays the Deployment controller: a short while after a Deployment's spec changes, its status reports
/// the new generation observed and the replicas ready and available, with the conditions kubectl shows.
/// A Deployment marked as failing (annotation <see cref="FailAnnotation"/> = "true", or <see cref="FailReady"/>)
/// rolls out but never becomes available, like pods stuck in CrashLoopBackOff.
/// </summary>
public sealed class DeploymentSimulator
{
    public const string FailAnnotation = "sandbox.canaryflow.dev/fail-ready";

    private readonly ObjectStore _store;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string, string), bool> _failing = new();

    public DeploymentSimulator(ObjectStore store, TimeProvider time, TimeSpan readyDelay)
    {
        _store = store;
        _time = time;
        ReadyDelay = readyDelay;
        store.Committed += OnCommitted;
    }

    public TimeSpan ReadyDelay { get; set; }

    /// <summary>Make a Deployment fail to become ready from its next rollout on; or stop: then, as on a real cluster whose
    /// pods start to pass their probes, its waiting pods become ready and it becomes available without a change of its own.</summary>
    public void FailReady(string ns, string name, bool fail = true)
    {
        if (fail) _failing[(ns, name)] = true;
        else if (_failing.TryRemove((ns, name), out _)) _ = ReconcileLaterAsync(ns, name);
    }

    private void OnCommitted(StoredEvent change)
    {
        if (change.Kind != ResourceKinds.Deployments || change.Type == "DELETED") return;
        var generation = (long?)change.Object["metadata"]?["generation"] ?? 1;
        var observed = (long?)change.Object["status"]?["observedGeneration"];
        if (observed == generation) return;
        var name = (string)change.Object["metadata"]!["name"]!;
        _ = ReconcileLaterAsync(change.Namespace, name);
    }

    private async Task ReconcileLaterAsync(string ns, string name)
    {
        try
        {
            await Task.Delay(ReadyDelay, _time);
            var written = WriteStatus(ns, name, deadlineExceeded: false);
            if (written is not { Failing: true } w) return;
            // Like the real controller: a rollout that makes no progress is marked ProgressDeadlineExceeded.
            await Task.Delay(TimeSpan.FromSeconds(w.DeadlineSeconds), _time);
            if ((long?)_store.Get(ResourceKinds.Deployments, ns, name)["metadata"]!["generation"] == w.Generation)
                WriteStatus(ns, name, deadlineExceeded: true);
        }
        catch (ApiError) { } // deleted meanwhile
    }

    private (bool Failing, long Generation, int DeadlineSeconds)? WriteStatus(string ns, string name, bool deadlineExceeded)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var current = _store.Get(ResourceKinds.Deployments, ns, name);
            var (status, failing) = StatusFor(current, ns, name, deadlineExceeded);
            current["status"] = status;
            try
            {
                _store.Update(ResourceKinds.Deployments, ns, name, current, statusOnly: true);
                return (failing, (long?)current["metadata"]!["generation"] ?? 1, (int?)current["spec"]?["progressDeadlineSeconds"] ?? 600);
            }
            catch (ApiError e) when (e.Code == 409) { } // someone wrote meanwhile: recompute from the latest
        }
        return null;
    }

    private (JsonObject Status, bool Failing) StatusFor(JsonObject deployment, string ns, string name, bool deadlineExceeded)
    {
        var replicas = (int?)deployment["spec"]?["replicas"] ?? 1;
        var fails = _failing.ContainsKey((ns, name)) ||
                    (string?)deployment["metadata"]?["annotations"]?[FailAnnotation] == "true";
        var now = ObjectStore.Timestamp(_time);
        var status = new JsonObject
        {
            ["observedGeneration"] = (long?)deployment["metadata"]!["generation"] ?? 1,
            ["replicas"] = replicas,
            ["updatedReplicas"] = replicas,
        };
        if (!fails && replicas > 0)
        {
            status["readyReplicas"] = replicas;
            status["availableReplicas"] = replicas;
        }
        if (fails && replicas > 0) status["unavailableReplicas"] = replicas;
        status["conditions"] = new JsonArray(
            Condition("Available", fails && replicas > 0 ? "False" : "True",
                fails && replicas > 0 ? "MinimumReplicasUnavailable" : "MinimumReplicasAvailable",
                fails && replicas > 0 ? "Deployment does not have minimum availability." : "Deployment has minimum availability.", now),
            deadlineExceeded
                ? Condition("Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{name}\" has timed out progressing.", now)
                : Condition("Progressing", "True", fails ? "ReplicaSetUpdated" : "NewReplicaSetAvailable",
                    fails ? $"ReplicaSet \"{name}\" is progressing." : $"ReplicaSet \"{name}\" has successfully progressed.", now));
        return (status, fails && replicas > 0);
    }

    private static JsonObject Condition(string type, string status, string reason, string message, string now) => new()
    {
        ["type"] = type, ["status"] = status, ["reason"] = reason, ["message"] = message,
        ["lastUpdateTime"] = now, ["lastTransitionTime"] = now,
    };
}
