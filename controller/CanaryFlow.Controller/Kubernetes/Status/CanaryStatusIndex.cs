using System.Collections.Concurrent;
using System.Text.Json;
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

    public void Observe(CanaryResource canary) =>
        Observe(canary.Namespace, canary.Name, canary.TargetName, canary.Status is null ? null : JsonSerializer.SerializeToElement(canary.Status));

    /// <summary>One Canary's status as the watch parsed it (no tree of it is built: every replica reads every Canary's events).</summary>
    public void Observe(string ns, string canary, string targetName, JsonElement? status)
    {
        if (targetName.Length == 0) return; // no target: no rollout to show
        var target = new RolloutTarget(ns, targetName);
        if (_targetOf.TryGetValue((ns, canary), out var was) && was != target) _byTarget.TryRemove(was, out _);
        _targetOf[(ns, canary)] = target;
        _byTarget[target] = Summarise(target, canary, status);
    }

    public void Remove(CanaryResource canary) => Remove(canary.Namespace, canary.Name);

    public void Remove(string ns, string canary)
    {
        if (_targetOf.TryRemove((ns, canary), out var target)) _byTarget.TryRemove(target, out _);
    }

    /// <summary>A fresh list of one namespace replaces what was known of it (a Canary deleted meanwhile goes).</summary>
    public void Replace(string ns, IEnumerable<(string Canary, string TargetName, JsonElement? Status)> canaries)
    {
        var listed = canaries.ToList();
        var names = listed.Select(c => c.Canary).ToHashSet();
        foreach (var key in _targetOf.Keys.Where(k => k.Item1 == ns && !names.Contains(k.Item2)))
            if (_targetOf.TryRemove(key, out var target)) _byTarget.TryRemove(target, out _);
        foreach (var (canary, targetName, status) in listed) Observe(ns, canary, targetName, status);
    }

    public static CanaryStatusSummary Summarise(RolloutTarget target, string canary, JsonElement? status)
    {
        JsonElement? holding = null;
        if (Field(status, "conditions") is { ValueKind: JsonValueKind.Array } conditions)
            foreach (var c in conditions.EnumerateArray())
                if (Text(Field(c, "type")) == RolloutPhases.Holding && Text(Field(c, "status")) == "True") { holding = c; break; }
        return new CanaryStatusSummary(target, canary,
            string.Intern(Text(Field(status, "phase")) ?? "Pending"), // a handful of phase names: one string each
            Number(Field(status, "canaryWeight")), Math.Max(0, Number(Field(status, "currentStep")) - 1), Text(Field(status, "canaryRevision")),
            Time(Field(status, "lastTransitionTime")), holding is null ? null : Time(Field(holding, "lastTransitionTime")));
    }

    private static JsonElement? Field(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) ? v : null;

    private static string? Text(JsonElement? e) => e is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;

    private static int Number(JsonElement? e) => e is { ValueKind: JsonValueKind.Number } n ? n.TryGetInt32(out var i) ? i : (int)n.GetDouble() : 0;

    private static DateTimeOffset? Time(JsonElement? e) => Text(e) is { } s && DateTimeOffset.TryParse(s, out var t) ? t : null;
}
