using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Benchmarks.Sequential;

/// <summary>
/// What a Prometheus query over a window would answer for one version: requests, success rate and
/// P99 from the difference of two cumulative snapshots, the P99 interpolated the way PromQL's
/// histogram_quantile does (linear within the bucket; the highest finite bound when it lies in +Inf).
/// </summary>
public readonly record struct WindowMetrics(double Requests, double? SuccessRate, double? P99)
{
    public static WindowMetrics Of(CounterSnapshot from, CounterSnapshot to, bool canary)
    {
        var (a, b) = canary ? (from.Canary, to.Canary) : (from.Stable, to.Stable);
        var requests = b.Requests - a.Requests;
        double? success = requests > 0 ? 100 * (1 - (b.Errors - a.Errors) / requests) : null;
        var buckets = b.Buckets.Zip(a.Buckets, (x, y) => x - y).ToArray();
        return new WindowMetrics(requests, success, Quantile(0.99, to.Les, buckets, b.LatencyCount - a.LatencyCount));
    }

    public static double? Quantile(double q, IReadOnlyList<double> les, IReadOnlyList<double> cumulative, double total)
    {
        if (!(total > 0)) return null;
        var rank = q * total;
        for (var i = 0; i < les.Count; i++)
        {
            if (cumulative[i] < rank) continue;
            var (lower, below) = i == 0 ? (0.0, 0.0) : (les[i - 1], cumulative[i - 1]);
            var inBucket = cumulative[i] - below;
            return inBucket <= 0 ? les[i] : lower + (les[i] - lower) * (rank - below) / inBucket;
        }
        return les[^1];
    }
}
