using System.Collections.Concurrent;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// Shares per-namespace, workload-grouped queries between concurrent checks. Entries are keyed by
/// (query kind, namespace, interval, evaluation-time bucket of <see cref="PrometheusOptions.BatchWindow"/>):
/// a thousand canaries checked at one tick in one namespace cost one query per kind. The first
/// check in a bucket fixes the evaluation time. A failed query is dropped as soon as it fails,
/// so checks waiting on it share the failure but the next one asks again.
/// </summary>
/// <param name="interest">The workloads this process's checks read lately, shared by every batcher of the process (see
/// <see cref="NamedAsync{T}"/>); a new one when not given.</param>
public sealed class WorkloadQueryBatcher(IPrometheusClient client, TimeProvider timeProvider, TimeSpan window, WorkloadInterest? interest = null)
{
    private readonly record struct Key(string Kind, string Namespace, TimeSpan Interval, long Bucket);

    // Freshness comes from the key (a new tick has a new time bucket); eviction only bounds memory.
    // It counts from the last use: when Prometheus is slow, a tick's checks read prefetched entries
    // long after they were created, and must not query again; a straggler after it costs one more query,
    // not a different answer. 30 s, not the minute it was: at 1,000 Canaries a minute kept ~76 grid points'
    // counters (~30 MB, a third of the live heap). 10 s was not kept: all three load runs with it stalled behind a
    // saturated Prometheus, where the runs with 30 s and a minute ended (docs/benchmarks.md, 2026-12-04).
    internal static readonly TimeSpan MinRetention = TimeSpan.FromSeconds(30);
    private readonly TimeSpan _retention = window + window > MinRetention ? window + window : MinRetention;

    private sealed class Entry(Task task, DateTimeOffset now)
    {
        private long _lastUsedTicks = now.UtcTicks;
        public Task Task { get; } = task;
        public void Touch(DateTimeOffset at) => Interlocked.Exchange(ref _lastUsedTicks, at.UtcTicks);
        public bool IdleSince(DateTimeOffset cutoff) => Task.IsCompleted && Interlocked.Read(ref _lastUsedTicks) < cutoff.UtcTicks;
    }

    private readonly ConcurrentDictionary<Key, Lazy<Entry>> _entries = new();

    private readonly WorkloadInterest _interest = interest ?? new WorkloadInterest();

    /// <summary>
    /// A read of one check's two workloads, shared in tiers by the checks of its time bucket. Each tier is sent once, naming
    /// the workloads wanted then that no earlier tier covers (up to <see cref="NamespaceCounters.MaxNamedWorkloads"/>), so
    /// Prometheus reads their series only, not the whole namespace's (issue 15: at 10,000 Canaries in one namespace every
    /// such read took seconds).
    /// A check whose workloads were first wanted after a tier was sent (a rollout's first check, or any check late behind a
    /// queue) takes the next tier, and after the last (<see cref="SharedTiers"/>) reads its own two. When more are wanted than a query may name, an
    /// unnamed answer that lacks them is followed by one namespace-wide read, shared by every late check.
    /// </summary>
    /// <param name="read">Reads the workloads the filter gives when the query is sent (null: every workload, unfiltered).</param>
    public async Task<T> NamedAsync<T>(string kind, string ns, TimeSpan interval, DateTimeOffset at, Func<Func<LabelFilter>?, Task<T>> read,
        string canary, string stable, CancellationToken cancellationToken) where T : IWorkloadAnswer
    {
        _interest.Ask(ns, timeProvider.GetUtcNow(), canary, stable);
        List<T>? earlier = null;
        foreach (var tier in Tiers.GetOrAdd(kind, static k => [k, .. Enumerable.Range(2, SharedTiers - 1).Select(n => $"{k}/{n}")]))
        {
            T[] before = earlier is null ? [] : [.. earlier];
            LabelFilter Wanted() => NotCoveredBefore(_interest.WantedAt(ns, timeProvider.GetUtcNow(), at, window), before, canary, stable);
            var answer = await GetAsync(tier, ns, interval, at, () => read(Wanted), cancellationToken);
            if (answer.Covers(canary) && answer.Covers(stable)) return answer;
            if (!answer.Named) return await GetAsync(kind + "/all", ns, interval, at, () => read(null), cancellationToken);
            (earlier ??= []).Add(answer);
        }
        return await read(() => new LabelFilter([canary, stable]));
    }

    /// <summary>What a tier names: the workloads wanted at its bucket that no earlier tier of the bucket covers, and always
    /// the pair of the check that sends it. The earlier tiers' checks read those, so naming them again only cost Prometheus a larger
    /// query and the process a copy: at 1,000 Canaries each tier held every wanted workload (~2,000 rows, ~370 KB), and a
    /// grid point had two or three tiers (docs/benchmarks.md, 2026-12-04).</summary>
    private static LabelFilter NotCoveredBefore<T>(LabelFilter wanted, T[] earlier, string canary, string stable) where T : IWorkloadAnswer =>
        earlier.Length == 0 && wanted.Contains(canary) && wanted.Contains(stable) ? wanted
            : new LabelFilter(wanted.Values.Where(w => !earlier.Any(a => a.Covers(w))).Append(canary).Append(stable));

    // A tier is sent only once the one before it has answered, so each serves every check that came meanwhile: a tier
    // costs one query for a wave of checks, where a check's own read costs one each. Four tiers were too few when a
    // burst of first checks came in waves (the 1,000-over-3 kill run: 71 queries per interval against 14 before the
    // queries were named); a bound still keeps a bucket's cost finite when late checks trickle in one by one.
    public const int SharedTiers = 8;

    private static readonly ConcurrentDictionary<string, string[]> Tiers = new(StringComparer.Ordinal);

    /// <summary>Instant query for one check's two workloads (<see cref="NamedAsync{T}"/>): value per workload, workloads
    /// absent from the answer are absent here.</summary>
    /// <param name="promql">The query, given the regex of the workloads to name (<see cref="PromQl.AnyOf"/>) or null for all.</param>
    public async Task<IReadOnlyDictionary<string, double>> InstantForAsync(string kind, string ns, TimeSpan interval, DateTimeOffset at,
        Func<string?, string> promql, string canary, string stable, CancellationToken cancellationToken) =>
        (await NamedAsync(kind, ns, interval, at, only => NamedInstantAsync(promql, at, only?.Invoke()), canary, stable, cancellationToken)).Values;

    /// <summary>An instant answer and the workloads its query named (null: every workload of the namespace).</summary>
    private sealed record NamedAnswer(LabelFilter? Names, IReadOnlyDictionary<string, double> Values) : IWorkloadAnswer
    {
        public bool Named => Names is not null;
        public bool Covers(string workload) => Names is null || Names.Contains(workload);
    }

    // One value per workload is small: more wanted than a query may name reads every workload, kept whole.
    private async Task<NamedAnswer> NamedInstantAsync(Func<string?, string> promql, DateTimeOffset at, LabelFilter? wanted)
    {
        var named = wanted is { Count: > 0 and <= NamespaceCounters.MaxNamedWorkloads } ? wanted : null;
        var result = await client.QueryAsync(promql(named is null ? null : PromQl.AnyOf(named.Values)), at, CancellationToken.None);
        return new NamedAnswer(named, ByWorkload(result));
    }

    private static IReadOnlyDictionary<string, double> ByWorkload(PromQueryResult result) =>
        result.Vector
            .Where(s => s.Labels.ContainsKey(IstioQueries.WorkloadLabel))
            .GroupBy(s => s.Labels[IstioQueries.WorkloadLabel])
            .ToDictionary(g => g.Key, g => g.First().Point.Value);

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
        var key = new Key(kind, ns, interval, WorkloadInterest.Bucket(at, window));
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
