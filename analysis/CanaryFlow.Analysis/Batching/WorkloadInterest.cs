using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// The workloads whose counters this process's checks have asked for lately, per namespace: what a namespace-wide
/// counter answer is parsed for. With several replicas a replica checks only the rollouts it owns, so the series of the
/// others' workloads (two in three with 3 replicas) are skipped unread. A workload is forgotten once no check has asked
/// for it for <paramref name="retention"/>; asking again makes it wanted again (that check reads once more, see
/// <see cref="NamespaceCounters.Covers"/>). Thread-safe; a snapshot is rebuilt only after the set changed.
/// </summary>
public sealed class WorkloadInterest(TimeSpan retention)
{
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
        var cutoff = (now - retention).UtcTicks;
        var stale = false;
        foreach (var (workload, asked) in entry.LastAsked)
            if (asked < cutoff && entry.LastAsked.TryRemove(new KeyValuePair<string, long>(workload, asked))) stale = true;
        if (stale || entry.Snapshot is null) entry.Snapshot = new LabelFilter(entry.LastAsked.Keys);
        return entry.Snapshot;
    }
}
