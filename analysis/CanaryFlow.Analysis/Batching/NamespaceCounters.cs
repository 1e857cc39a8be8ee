using System.Globalization;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Analysis.Verdicts;

namespace CanaryFlow.Analysis.Batching;

/// <summary>
/// The cumulative counters of every workload of one namespace at one grid point, in the compact form the sequential
/// checks read: per workload its requests, 5xx, and one array of histogram counts aligned with the namespace's bucket
/// bounds (<see cref="Les"/>). Built once per grid point from the three namespace-wide answers and shared by every
/// canary's check (each reads two workloads of it). Why compact: the bucket answer holds every bucket of every
/// workload (40,000 samples for 1,000 canaries); kept as label dictionaries per sample it was megabytes per grid point,
/// held for a minute by the batcher, and every check scanned all of it for the bounds.
/// </summary>
public sealed class NamespaceCounters : IWorkloadAnswer
{
    // One row of cells per workload, all in one array: requests, 5xx, the +Inf count, then the cumulative count at each
    // bound of Les. The batcher keeps each grid point's counters for a minute (~30 grid points of 2,000 workloads at
    // 1,000 Canaries): three dictionaries, and a histogram object and an array per workload, were 163,404 objects and
    // 8.5 MB live; 269 objects and 2.5 MB so (docs/benchmarks.md, "the live set and the GC settings").
    // The rows are cut into pages of at most 8,192 cells (64 KB), no row across two: one array for 2,000 workloads was
    // ~270 KB, on the large object heap, which only a full collection frees (docs/benchmarks.md, "The large object heap's
    // sources"); pages stay in the small object heap and are compacted with it.
    private const int Fixed = 3;
    internal const int PageCells = 8192;
    private readonly Dictionary<string, int> _rows; // workload -> its row's number
    private readonly double[][] _pages;
    private readonly int _width, _rowsPerPage;

    private readonly LabelFilter?[] _filters;

    private NamespaceCounters(IReadOnlyDictionary<string, double> requests, IReadOnlyDictionary<string, double> errors, HistogramSet histograms,
        LabelFilter?[] filters)
    {
        Les = histograms.Les;
        _width = Fixed + Les.Count;
        _rowsPerPage = Math.Max(1, PageCells / _width);
        _rows = new Dictionary<string, int>(histograms.ByWorkload.Count, StringComparer.Ordinal);
        foreach (var workload in histograms.ByWorkload.Keys.Concat(requests.Keys).Concat(errors.Keys))
            _rows.TryAdd(workload, _rows.Count);
        _pages = new double[(_rows.Count + _rowsPerPage - 1) / _rowsPerPage][];
        for (var p = 0; p < _pages.Length; p++) _pages[p] = new double[Math.Min(_rowsPerPage, _rows.Count - p * _rowsPerPage) * _width];
        foreach (var (workload, number) in _rows)
        {
            var row = Row(number);
            row[0] = requests.GetValueOrDefault(workload);
            row[1] = errors.GetValueOrDefault(workload);
            if (!histograms.ByWorkload.TryGetValue(workload, out var h)) continue;
            row[2] = h.Count;
            h.Cumulative.CopyTo(row[Fixed..]);
        }
        _filters = filters;
    }

    /// <summary>The finite bucket bounds any workload of the namespace reported, ascending.</summary>
    public IReadOnlyList<double> Les { get; }

    /// <summary>At most this many workloads are named in a query (about 50 KB of PromQL); a larger set is parsed out of
    /// the namespace-wide answer instead.</summary>
    public const int MaxNamedWorkloads = 2000;

    /// <summary>The three counter queries of a namespace (requests, 5xx, latency buckets), read sample by sample.</summary>
    /// <param name="only">When given, the workloads to keep. Up to <see cref="MaxNamedWorkloads"/> of them are taken now and
    /// named in the queries, so that Prometheus reads their series only (issue 15: at 10,000 Canaries in one namespace,
    /// each namespace-wide read touched every series, and the harness's Prometheus answered in seconds while a replica
    /// checked a few hundred). A larger set is taken as each answer arrives and the other series are skipped unread, so
    /// that checks that ask while the queries run are covered too.</param>
    public static async Task<NamespaceCounters> ReadAsync(IPrometheusClient client, string ns, DateTimeOffset at, Func<LabelFilter>? only = null)
    {
        var named = only?.Invoke() is { Count: > 0 and <= MaxNamedWorkloads } now ? now : null;
        var filters = new LabelFilter?[3];
        LabelFilter? Keep(int query) => filters[query] = named ?? only?.Invoke();
        var workloads = named is null ? null : PromQl.AnyOf(named.Values); // once for the three queries
        var requests = client.QueryVectorAsync<IReadOnlyDictionary<string, double>>(IstioQueries.RequestsTotal(ns, workloads), at,
            () => new WorkloadValues(Keep(0)), CancellationToken.None);
        var errors = client.QueryVectorAsync<IReadOnlyDictionary<string, double>>(IstioQueries.ServerErrorsTotal(ns, workloads), at,
            () => new WorkloadValues(Keep(1)), CancellationToken.None);
        var buckets = client.QueryVectorAsync<HistogramSet>(IstioQueries.DurationBucketsTotal(ns, workloads), at,
            () => new WorkloadBuckets(Keep(2)), CancellationToken.None);
        return new NamespaceCounters(await requests, await errors, await buckets, filters) { Named = named is not null };
    }

    /// <summary>Whether the queries named the workloads they read (Prometheus read only theirs).</summary>
    public bool Named { get; private init; }

    /// <summary>Whether this read kept <paramref name="workload"/>'s series (always, when it was read unfiltered). A
    /// workload it did not keep is not known to be zero: its check must read again with it wanted.</summary>
    public bool Covers(string workload) => _filters.All(f => f is null || f.Contains(workload));

    /// <summary>Both arms of one canary.</summary>
    public CounterSnapshot Snapshot(string canary, string stable) => new(Arm(canary), Arm(stable), Les);

    // A workload without a series has counted nothing yet: zero, not a gap. Its buckets are copied out of the row: a
    // check may keep them, and must not keep the whole grid point's table alive with them.
    private ArmCounters Arm(string workload)
    {
        if (!_rows.TryGetValue(workload, out var number)) return new ArmCounters(0, 0, new double[Les.Count], 0);
        var row = Row(number);
        return new ArmCounters(row[0], row[1], row[Fixed..].ToArray(), row[2]);
    }

    private Span<double> Row(int number) => _pages[number / _rowsPerPage].AsSpan(number % _rowsPerPage * _width, _width);

    /// <summary>The largest array of cells this grid point holds (bytes): what it puts on the heap in one piece.</summary>
    internal int LargestPageBytes => _pages.Length == 0 ? 0 : _pages.Max(p => p.Length) * sizeof(double);

    private sealed record Histogram(double[] Cumulative, double Count);

    private sealed record HistogramSet(double[] Les, IReadOnlyDictionary<string, Histogram> ByWorkload);

    /// <summary>Value per workload; a workload's first sample counts (as the grouped answers always did).</summary>
    private sealed class WorkloadValues(LabelFilter? only) : IVectorSink<IReadOnlyDictionary<string, double>>
    {
        private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);

        public IReadOnlyList<string> Labels { get; } = [IstioQueries.WorkloadLabel];

        public LabelFilter? Only => only;

        public void Add(ReadOnlySpan<string?> labelValues, double value)
        {
            if (labelValues[0] is { } workload) _values.TryAdd(workload, value);
        }

        public IReadOnlyDictionary<string, double> Result() => _values;
    }

    /// <summary>Count per (workload, le), then per workload one array over the namespace's finite bounds and its +Inf count.
    /// A workload's samples are kept as a list of (le, count), not a dictionary: a dictionary per workload was half of
    /// what a read allocated (its arrays regrown four times for 20 buckets).</summary>
    private sealed class WorkloadBuckets(LabelFilter? only) : IVectorSink<HistogramSet>
    {
        private readonly Dictionary<string, List<(double Le, double Count)>> _byWorkload = new(StringComparer.Ordinal);
        private readonly SortedSet<double> _les = [];
        private List<(double Le, double Count)>? _last; // samples come grouped by workload: skip the lookup
        private string? _lastWorkload;

        public IReadOnlyList<string> Labels { get; } = [IstioQueries.WorkloadLabel, "le"];

        public LabelFilter? Only => only;

        public void Add(ReadOnlySpan<string?> labelValues, double value)
        {
            if (labelValues[0] is not { } workload || labelValues[1] is not { } text) return;
            var le = text == "+Inf" ? double.PositiveInfinity
                : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
            if (double.IsNaN(le)) return;
            if (!ReferenceEquals(workload, _lastWorkload) && workload != _lastWorkload)
            {
                if (!_byWorkload.TryGetValue(workload, out _last)) _byWorkload[workload] = _last = new List<(double, double)>(24);
                _lastWorkload = workload;
            }
            _last!.Add((le, value));
            if (double.IsFinite(le)) _les.Add(le);
        }

        public HistogramSet Result()
        {
            var les = _les.ToArray();
            var byWorkload = new Dictionary<string, Histogram>(_byWorkload.Count, StringComparer.Ordinal);
            var seen = new bool[les.Length];
            foreach (var (workload, counts) in _byWorkload)
            {
                // A (workload, le) seen twice keeps its first count, as the grouped answers always did.
                var cumulative = new double[les.Length];
                Array.Clear(seen);
                double? inf = null;
                foreach (var (le, count) in counts)
                {
                    if (double.IsPositiveInfinity(le)) inf ??= count;
                    else if (Array.BinarySearch(les, le) is var i and >= 0 && !seen[i]) (cumulative[i], seen[i]) = (count, true);
                }
                byWorkload[workload] = new Histogram(cumulative, inf ?? 0);
            }
            return new HistogramSet(les, byWorkload);
        }
    }
}
