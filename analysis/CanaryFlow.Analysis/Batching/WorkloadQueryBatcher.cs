using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// Shares namespace-wide, workload-grouped queries between concurrent checks. Entries are keyed by
/// (query kind, namespace, interval, evaluation-time bucket of <see cref="PrometheusOptions.BatchWindow"/>):
/// a thousand canaries checked at one tick in one namespace cost one query per kind. The first
/// check in a bucket fixes the evaluation time. A failed query is dropped as soon as it fails,
/// so checks waiting on it share the failure but the next one asks again.
/// </summary>
public sealed class WorkloadQueryBatcher(IPrometheusClient client, TimeProvider timeProvider, TimeSpan window)
{
    private readonly record struct Key(string Kind, string Namespace, TimeSpan Interval, long Bucket);

    // Freshness comes from the key (a new tick has a new time bucket); eviction only bounds memory.
    // So it is generous and counts from the last use: when Prometheus is slow, a tick's checks read
    // prefetched entries long after they were created, and must not query again.
    private readonly TimeSpan _retention = window + window > TimeSpan.FromMinutes(1) ? window + window : TimeSpan.FromMinutes(1);

    private sealed class Entry(Task task, DateTimeOffset now)
    {
        private long _lastUsedTicks = now.UtcTicks;
        public Task Task { get; } = task;
        public void Touch(DateTimeOffset at) => Interlocked.Exchange(ref _lastUsedTicks, at.UtcTicks);
        public bool IdleSince(DateTimeOffset cutoff) => Task.IsCompleted && Interlocked.Read(ref _lastUsedTicks) < cutoff.UtcTicks;
    }

    private readonly ConcurrentDictionary<Key, Lazy<Entry>> _entries = new();

    // The workloads this process's checks read lately, per namespace: what the instant queries name (see InstantForAsync).
    private readonly WorkloadInterest _interest = new(TimeSpan.FromMinutes(2));

    /// <summary>Notes that a check is about to read these workloads of <paramref name="ns"/> (before its queries start).</summary>
    public void Ask(string ns, params ReadOnlySpan<string> workloads) => _interest.Ask(ns, timeProvider.GetUtcNow(), workloads);

    /// <summary>
    /// Instant query for one check's two workloads, shared by the checks of its time bucket. Each tier is sent once, naming
    /// every workload wanted then (<see cref="Ask"/>; up to <see cref="NamespaceCounters.MaxNamedWorkloads"/>), so Prometheus
    /// reads their series only, not the whole namespace's (issue 15: at 10,000 Canaries in one namespace every such read
    /// took seconds); a check whose workloads were asked after a tier was sent takes the next, and after the last, reads its
    /// own two. With more wanted than a query may name, the first tier reads the whole namespace and serves every check.
    /// </summary>
    /// <param name="promql">The query, given the regex of the workloads to name (<see cref="PromQl.AnyOf"/>) or null for all.</param>
    public async Task<IReadOnlyDictionary<string, double>> InstantForAsync(string kind, string ns, TimeSpan interval, DateTimeOffset at,
        Func<string?, string> promql, string canary, string stable, CancellationToken cancellationToken)
    {
        foreach (var tier in Tiers.GetOrAdd(kind, static k => [k, k + "/late", k + "/later", k + "/last"]))
        {
            var answer = await GetAsync(tier, ns, interval, at,
                () => NamedInstantAsync(promql, at, _interest.Wanted(ns, timeProvider.GetUtcNow())), cancellationToken);
            if (answer.Covers(canary) && answer.Covers(stable)) return answer.Values;
        }
        return (await NamedInstantAsync(promql, at, new LabelFilter([canary, stable]))).Values;
    }

    private static readonly ConcurrentDictionary<string, string[]> Tiers = new(StringComparer.Ordinal);

    /// <summary>An instant answer and the workloads its query named (null: every workload of the namespace).</summary>
    private sealed record NamedAnswer(LabelFilter? Named, IReadOnlyDictionary<string, double> Values)
    {
        public bool Covers(string workload) => Named is null || Named.Contains(workload);
    }

    private async Task<NamedAnswer> NamedInstantAsync(Func<string?, string> promql, DateTimeOffset at, LabelFilter wanted)
    {
        var named = wanted.Count is > 0 and <= NamespaceCounters.MaxNamedWorkloads ? wanted : null;
        var result = await client.QueryAsync(promql(named is null ? null : PromQl.AnyOf(named.Values)), at, CancellationToken.None);
        return new NamedAnswer(named, ByWorkload(result));
    }

    private static IReadOnlyDictionary<string, double> ByWorkload(PromQueryResult result) =>
        result.Vector
            .Where(s => s.Labels.ContainsKey(IstioQueries.WorkloadLabel))
            .GroupBy(s => s.Labels[IstioQueries.WorkloadLabel])
            .ToDictionary(g => g.Key, g => g.First().Point.Value);

    /// <summary>Instant query: value per workload (workloads absent from the answer are absent here).</summary>
    public Task<IReadOnlyDictionary<string, double>> InstantAsync(
        string kind, string ns, TimeSpan interval, DateTimeOffset at, string promql, CancellationToken cancellationToken) =>
        GetAsync(kind, ns, interval, at, async () => ByWorkload(await client.QueryAsync(promql, at, CancellationToken.None)), cancellationToken);

    /// <summary>Instant query keeping one more label (e.g. a histogram's le): workload → label value → value.</summary>
    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>> InstantByAsync(
        string kind, string ns, TimeSpan interval, DateTimeOffset at, string promql, string label, CancellationToken cancellationToken) =>
        GetAsync(kind, ns, interval, at, async () =>
        {
            var result = await client.QueryAsync(promql, at, CancellationToken.None);
            return (IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>)result.Vector
                .Where(s => s.Labels.ContainsKey(IstioQueries.WorkloadLabel) && s.Labels.ContainsKey(label))
                .GroupBy(s => s.Labels[IstioQueries.WorkloadLabel])
                .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, double>)g
                    .GroupBy(s => s.Labels[label]).ToDictionary(l => l.Key, l => l.First().Point.Value));
        }, cancellationToken);

    /// <summary>Range query over [at - interval, at]: points per workload.</summary>
    public Task<IReadOnlyDictionary<string, IReadOnlyList<PromPoint>>> RangeAsync(
        string kind, string ns, TimeSpan interval, DateTimeOffset at, TimeSpan step, string promql, CancellationToken cancellationToken) =>
        GetAsync(kind, ns, interval, at, async () =>
        {
            var result = await client.QueryRangeAsync(promql, at - interval, at, step, CancellationToken.None);
            return (IReadOnlyDictionary<string, IReadOnlyList<PromPoint>>)result.Matrix
                .Where(s => s.Labels.ContainsKey(IstioQueries.WorkloadLabel))
                .GroupBy(s => s.Labels[IstioQueries.WorkloadLabel])
                .ToDictionary(g => g.Key, g => g.First().Points);
        }, cancellationToken);

    /// <summary>Any shared answer under the same keys: <paramref name="query"/> runs once per (kind, namespace, interval,
    /// time bucket), e.g. a compact form of several namespace-wide queries that every canary's check reads.</summary>
    public Task<T> SharedAsync<T>(string kind, string ns, TimeSpan interval, DateTimeOffset at, Func<Task<T>> query, CancellationToken cancellationToken) =>
        GetAsync(kind, ns, interval, at, query, cancellationToken);

    private async Task<T> GetAsync<T>(string kind, string ns, TimeSpan interval, DateTimeOffset at, Func<Task<T>> query, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        Sweep(now);
        var key = new Key(kind, ns, interval, at.ToUnixTimeMilliseconds() / (long)window.TotalMilliseconds);
        // Lazy makes sure only one caller starts the query; the query runs without any caller's
        // token so that one cancelled check does not fail the others sharing it.
        Lazy<Entry> candidate = null!;
        candidate = new Lazy<Entry>(() =>
        {
            var started = query();
            _ = started.ContinueWith(failed =>
                {
                    _ = failed.Exception; // observed: each waiting check reports it in its own verdict
                    _entries.TryRemove(new KeyValuePair<Key, Lazy<Entry>>(key, candidate));
                },
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return new Entry(started, now);
        });
        var entry = _entries.GetOrAdd(key, candidate).Value;
        entry.Touch(now);
        var task = (Task<T>)entry.Task;
        return await task.WaitAsync(cancellationToken);
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, lazy) in _entries)
            if (lazy.IsValueCreated && lazy.Value.IdleSince(now - _retention))
                _entries.TryRemove(new KeyValuePair<Key, Lazy<Entry>>(key, lazy));
    }
}
