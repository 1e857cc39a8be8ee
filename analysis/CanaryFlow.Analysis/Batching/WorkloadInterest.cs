using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Contracts;

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
/// <para>
/// The ticker also says when each rollout's next check is due (<see cref="Expect"/>), so a query for one grid point
/// names the workloads due there, not every workload asked for lately: with early looks every 2 s and checks every
/// 10 s, four grid points in five had a few rollouts due and each named all ~2,000 workloads (the stalled load runs'
/// saturated Prometheus, docs/benchmarks.md, 2026-12-04).
/// </para>
/// </summary>
public sealed class WorkloadInterest
{
    /// <summary>Short, because the wanted workloads are named in the queries: those of rollouts that ended stay named
    /// for this long (issue 15: at ~1 rollout ending per second per replica, 10 minutes was ~1,200 workloads of nothing).</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(2);

    private sealed class Namespace
    {
        public readonly ConcurrentDictionary<string, long> LastAsked = new(StringComparer.Ordinal);
        public readonly ConcurrentDictionary<string, long> NextDue = new(StringComparer.Ordinal); // UTC ticks of the forecast check
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

    /// <summary>Notes that the next check of <paramref name="target"/> (its canary and stable workloads) is due at
    /// <paramref name="due"/> (a later forecast replaces it).</summary>
    public void Expect(RolloutTarget target, DateTimeOffset due)
    {
        var entry = _namespaces.GetOrAdd(target.Namespace, _ => new Namespace());
        var ticks = due.UtcTicks;
        var canary = WorkloadNames.Canary(target);
        // The ticker repeats every forecast each tick: an unchanged one writes nothing and builds no stable name.
        if (entry.NextDue.TryGetValue(canary, out var known) && known == ticks) return;
        entry.NextDue[canary] = ticks;
        entry.NextDue[WorkloadNames.Stable(target)] = ticks;
    }

    /// <summary>What a query for the checks due at <paramref name="at"/> names: the wanted workloads (see
    /// <see cref="Wanted"/>) and those forecast (<see cref="Expect"/>) in the same <paramref name="window"/> bucket, less
    /// those forecast for another bucket. A check whose forecast was missed or moved on names itself (the caller adds its
    /// pair), and the shared tiers after the first catch the rest.</summary>
    public LabelFilter WantedAt(string ns, DateTimeOffset now, DateTimeOffset at, TimeSpan window)
    {
        var wanted = Wanted(ns, now);
        var entry = _namespaces.GetOrAdd(ns, _ => new Namespace());
        if (entry.NextDue.IsEmpty) return wanted;
        var bucket = Bucket(at, window);
        var cutoff = (now - Retention).UtcTicks;
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (workload, due) in entry.NextDue)
        {
            if (due < cutoff) entry.NextDue.TryRemove(new KeyValuePair<string, long>(workload, due)); // its rollout ended
            else if (Bucket(new DateTimeOffset(due, TimeSpan.Zero), window) == bucket) named.Add(workload);
        }
        foreach (var workload in wanted.Values)
            if (!entry.NextDue.ContainsKey(workload)) named.Add(workload);
        return new LabelFilter(named);
    }

    /// <summary>The batch a time falls in: checks due in one window of <paramref name="window"/> share their queries.</summary>
    public static long Bucket(DateTimeOffset at, TimeSpan window) => at.ToUnixTimeMilliseconds() / (long)window.TotalMilliseconds;

    /// <summary>The workloads of <paramref name="ns"/> asked for within the retention before <paramref name="now"/>.</summary>
    private LabelFilter Wanted(string ns, DateTimeOffset now)
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
