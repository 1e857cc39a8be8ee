using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// The workloads whose counters this process's checks have asked for lately, per namespace: what a namespace-wide
/// counter answer is parsed for. With several replicas a replica checks only the rollouts it owns, so the series of the
/// others' workloads (two in three with 3 replicas) are skipped unread. A workload is forgotten once no check has asked
/// for it for <see cref="Retention"/>; asking again makes it wanted again (that check reads once more, see
/// <see cref="NamespaceCounters.Covers"/>). Thread-safe; a snapshot is rebuilt only after the set changed.
/// One per process, shared by the sequential counters and the thresholds judged at a step's end: a workload the
/// sequential ticks read is already named when its step's first threshold check comes (with an interest each, that
/// check missed every shared tier and read its own two workloads: 111 queries per interval for 1,000 Canaries).
/// </summary>
public sealed class WorkloadInterest
{
    /// <summary>Short, because the wanted workloads are named in the queries: those of rollouts that ended stay named
    /// for this long (issue 15: at ~1 rollout ending per second per replica, 10 minutes was ~1,200 workloads of nothing).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(2);

    private sealed class Namespace
    {
        public readonly ConcurrentDictionary<string, long> LastAsked = new(StringComparer.Ordinal);
        public volatile LabelFilter? Snapshot; // null after a change: rebuilt on the next read
    }

    private readonly ConcurrentDictionary<string, Namespace> _namespaces = new(StringComparer.Ordinal);

    /// <summary>Notes that a check at <paramref name="now"/> reads these workloads of <paramref name="ns"/>.</summary>
    public void Ask(string ns, DateTimeOffset now, params ReadOnlySpan<string> workloads)
    {
        var entry = _namespaces.GetOrAdd(ns, _ => new Namespace());
        foreach (var workload in workloads)
        {
            entry.LastAsked[workload] = now.UtcTicks;
            // A snapshot taken while this was added may lack it; then the next check asks again and clears it.
            if (entry.Snapshot is { } s && !s.Contains(workload)) entry.Snapshot = null;
        }
    }

    /// <summary>The workloads of <paramref name="ns"/> asked for within the retention before <paramref name="now"/>.</summary>
    public LabelFilter Wanted(string ns, DateTimeOffset now)
    {
        var entry = _namespaces.GetOrAdd(ns, _ => new Namespace());
        var cutoff = (now - Retention).UtcTicks;
        var stale = false;
        foreach (var (workload, asked) in entry.LastAsked)
            if (asked < cutoff && entry.LastAsked.TryRemove(new KeyValuePair<string, long>(workload, asked))) stale = true;
        if (stale || entry.Snapshot is null) entry.Snapshot = new LabelFilter(entry.LastAsked.Keys);
        return entry.Snapshot;
    }
}
