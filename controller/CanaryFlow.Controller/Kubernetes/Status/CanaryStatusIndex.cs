using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>What people read of one Canary's status, in a few fields: the cluster-wide view's row.</summary>
/// <param name="Step">0-based, as <see cref="RolloutStatusView.StepIndex"/>.</param>
public sealed record CanaryStatusSummary(RolloutTarget Target, string Canary, string Phase, int CanaryWeight, int Step, string? Revision,
    DateTimeOffset? LastTransitionAt, DateTimeOffset? HoldingSince);

/// <summary>
/// A compact projection of every watched Canary's status (the shared truth every replica can read), so that each sharded
/// replica can show the whole cluster while holding the full state of its own partitions' rollouts only: about two
/// hundred bytes a Canary, against tens of kilobytes for a saga state (issue 15). Fed by the Deployment watch, which
/// sees every Canary's events whichever replica owns it.
/// </summary>
public sealed class CanaryStatusIndex
{
    private readonly ConcurrentDictionary<RolloutTarget, CanaryStatusSummary> _byTarget = new();
    private readonly ConcurrentDictionary<(string, string), RolloutTarget> _targetOf = new(); // (namespace, Canary) -> its target

    public int Count => _byTarget.Count;

    public IReadOnlyCollection<CanaryStatusSummary> All => _byTarget.Values.ToList();

    public CanaryStatusSummary? Find(RolloutTarget target) => _byTarget.GetValueOrDefault(target);

    public void Observe(CanaryResource canary)
    {
        if (canary.TargetName.Length == 0) return; // no target: no rollout to show
        var target = new RolloutTarget(canary.Namespace, canary.TargetName);
        if (_targetOf.TryGetValue((canary.Namespace, canary.Name), out var was) && was != target) _byTarget.TryRemove(was, out _);
        _targetOf[(canary.Namespace, canary.Name)] = target;
        _byTarget[target] = Summarise(target, canary.Name, canary.Status);
    }

    public void Remove(CanaryResource canary)
    {
        if (_targetOf.TryRemove((canary.Namespace, canary.Name), out var target)) _byTarget.TryRemove(target, out _);
    }

    /// <summary>A fresh list of one namespace replaces what was known of it (a Canary deleted meanwhile goes).</summary>
    public void Replace(string ns, IEnumerable<CanaryResource> canaries)
    {
        var listed = canaries.ToList();
        var names = listed.Select(c => c.Name).ToHashSet();
        foreach (var key in _targetOf.Keys.Where(k => k.Item1 == ns && !names.Contains(k.Item2)))
            if (_targetOf.TryRemove(key, out var target)) _byTarget.TryRemove(target, out _);
        foreach (var c in listed) Observe(c);
    }

    public static CanaryStatusSummary Summarise(RolloutTarget target, string canary, JsonObject? status)
    {
        var holding = (status?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .FirstOrDefault(c => (string?)c["type"] == RolloutPhases.Holding && (string?)c["status"] == "True");
        return new CanaryStatusSummary(target, canary,
            string.Intern(Text(status?["phase"]) ?? "Pending"), // a handful of phase names: one string each
            Number(status?["canaryWeight"]), Math.Max(0, Number(status?["currentStep"]) - 1), Text(status?["canaryRevision"]),
            Time(status?["lastTransitionTime"]), holding is null ? null : Time(holding["lastTransitionTime"]));
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static int Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<int>(out var i) ? i
        : node is JsonValue d && d.TryGetValue<double>(out var x) ? (int)x : 0;

    private static DateTimeOffset? Time(JsonNode? node) => Text(node) is { } s && DateTimeOffset.TryParse(s, out var t) ? t : null;
}
