using System.Text.Json.Serialization;

namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// A sequential test of stochastic order on a latency histogram: at a few bucket bounds b (those
/// around the stable version's p50, p90 and p99, and the far tail one bucket above its p99), "requests
/// slower than b" are the events of a <see cref="RateRatioTest"/>. H0: at every chosen bound the canary's
/// share of slow requests is at most (1 + tolerance) times the stable's. A median shift moves the share
/// at the p50 bound; a tail-only regression (same median, slower p99) moves the share at the p99 bound
/// and, when it is slower than nearly anything stable serves, at the far-tail bound, where stable has
/// next to no mass: every slow canary request there is the strongest evidence a count can give (a factor
/// of up to 1/p0, stable's slow requests diluting nothing). A comparison of medians or of per-window P99
/// samples misses these (Lindon, Sanden and Shirikian, KDD 2022, test stochastic order on binned data
/// the same way).
/// <para>
/// The combined e-value is a weighted average of the per-bound e-values, the weights fixed with the
/// bounds: an average of supermartingales with fixed weights is one too, so rejecting at 1/α keeps the
/// level α whatever the weights. They lean to the tail, and each bound's mixture to the rate ratios it can have (<see cref="MixtureWeights"/>):
/// a tail regression shows only a handful of slow requests in a step, each worth a factor of ~1/p0, and
/// a weight w costs log(1/w) of evidence; a median shift shows in hundreds of requests and pays its
/// smaller weight back in seconds. The bounds are fixed once, from the stable version's histogram
/// before the increments they judge (a predictable choice), and kept for the whole rollout.
/// </para>
/// Why not a Dirichlet-multinomial Bayes factor over all buckets: it tests equality in distribution,
/// so a canary that is faster in one bucket and slower in another rejects just as much, and its
/// power spreads over ~20 buckets of which the tail ones hold 1% of the data.
/// </summary>
/// <param name="Weights">The bounds' weights in the average, summing to 1; null (evidence saved before weights
/// existed) is the plain average it was started with. Each bound's test keeps its own mixture weights (<see cref="RateRatioTest.Weights"/>).</param>
public sealed record LatencyTailTest(IReadOnlyList<double> Bounds, IReadOnlyList<RateRatioTest> Tests, IReadOnlyList<double>? Weights = null)
{
    /// <summary>
    /// Starts the test on <paramref name="bounds"/>, with their weights in the average (null: equal) and each bound's
    /// weights over the alternatives (null: equal for every bound).
    /// </summary>
    public static LatencyTailTest Start(IReadOnlyList<double> bounds, double tolerance, IReadOnlyList<double>? weights = null,
        IReadOnlyList<IReadOnlyList<double>>? alternatives = null)
    {
        if (weights is not null && (weights.Count != bounds.Count || weights.Any(w => !(w > 0)) || Math.Abs(weights.Sum() - 1) > 1e-9))
            throw new ArgumentException("one positive weight per bound, summing to 1", nameof(weights));
        if (alternatives is not null && alternatives.Count != bounds.Count)
            throw new ArgumentException("one set of alternative weights per bound", nameof(alternatives));
        return new(bounds, bounds.Select((_, i) => RateRatioTest.Start(tolerance, alternatives?[i])).ToArray(), weights);
    }

    /// <summary>Starts the test on the bounds <see cref="ChooseWeightedBounds"/> picks from the stable histogram; null when it picks none.</summary>
    public static LatencyTailTest? StartFromStable(IReadOnlyList<double> les, IReadOnlyList<double> stableCumulative, double stableTotal, double tolerance,
        double floor = 0)
    {
        var chosen = ChooseWeightedBounds(les, stableCumulative, stableTotal, floor);
        return chosen.Count == 0 ? null
            : Start(chosen.Select(c => c.Bound).ToArray(), tolerance, chosen.Select(c => c.Weight).ToArray(), chosen.Select(c => c.Alternatives).ToArray());
    }

    /// <summary>
    /// The bounds at (or just above) the stable quantiles of <see cref="MixtureWeights.LatencyQuantiles"/> plus the far-tail
    /// bound (the next finite bound above the highest of them), with their weights and mixtures: a bound chosen twice gets
    /// both weights and the weighted mean of both mixtures (the same average, term by term); missing ones (a quantile in the
    /// +Inf bucket, no bound above the p99's) leave theirs out and the rest are scaled to sum to 1. Empty when stable has no
    /// observations.
    /// <para>
    /// <paramref name="floor"/> (in the histogram's unit; 0: none): no bound below it. A quantile bound under the floor is
    /// raised to the smallest bucket bound at or above it (quantiles raised to the same bound collapse as above), and the
    /// far tail is the bound above that; no bound at all when every finite bound is under the floor. Why: the bounds follow
    /// stable's histogram however low, and for a service answering in 0.05 ms a handful of canary requests slowed to 0.5 ms
    /// by the node's scheduling rejected "canary no worse than stable" (e = 99 over [0.5, 1] ms); a regression that lives
    /// entirely under a few milliseconds is not one a user feels. Still a predictable choice (stable's past and a constant).
    /// </para>
    /// </summary>
    public static IReadOnlyList<(double Bound, double Weight, IReadOnlyList<double> Alternatives)> ChooseWeightedBounds(
        IReadOnlyList<double> les, IReadOnlyList<double> stableCumulative, double stableTotal, double floor = 0)
    {
        var lowest = les.Where(le => double.IsFinite(le) && le >= floor).DefaultIfEmpty(double.NaN).Min();
        if (double.IsNaN(lowest)) return [];
        var chosen = new SortedDictionary<double, (double Weight, double[] Mass)>();
        void Add(double bound, double weight, IReadOnlyList<double> alternatives)
        {
            var (w, mass) = chosen.GetValueOrDefault(bound, (0, new double[alternatives.Count]));
            chosen[bound] = (w + weight, mass.Zip(alternatives, (m, a) => m + weight * a).ToArray());
        }
        foreach (var (q, w, a) in MixtureWeights.LatencyQuantiles)
            if (QuantileBound(les, stableCumulative, stableTotal, q) is { } b) Add(Math.Max(b, lowest), w, a);
        if (chosen.Count == 0) return [];
        var highest = chosen.Keys.Max();
        var above = les.Where(le => double.IsFinite(le) && le > highest).DefaultIfEmpty(double.NaN).Min();
        if (!double.IsNaN(above)) Add(above, MixtureWeights.LatencyFarTail.Weight, MixtureWeights.LatencyFarTail.Alternatives);
        var total = chosen.Values.Sum(c => c.Weight);
        return chosen.Select(p => (p.Key, p.Value.Weight / total, (IReadOnlyList<double>)p.Value.Mass.Select(m => m / p.Value.Weight).ToArray())).ToArray();
    }

    /// <summary>The smallest finite bound whose cumulative count reaches q·total (the bucket holding the stable
    /// quantile); null without stable observations or for a quantile in the +Inf bucket. A bound every stable request
    /// is under stays: a canary with requests above it is evidence too.</summary>
    private static double? QuantileBound(IReadOnlyList<double> les, IReadOnlyList<double> stableCumulative, double stableTotal, double q)
    {
        if (les.Count != stableCumulative.Count) throw new ArgumentException("one cumulative count per bucket bound");
        if (!(stableTotal > 0)) return null;
        for (var i = 0; i < les.Count; i++)
            if (double.IsFinite(les[i]) && stableCumulative[i] >= q * stableTotal) return les[i];
        return null;
    }

    /// <summary>
    /// Adds one increment of both histograms: cumulative counts per bound (same order as
    /// <paramref name="les"/>) and the increment's total (+Inf bucket) per arm.
    /// </summary>
    public LatencyTailTest Observe(
        IReadOnlyList<double> les,
        IReadOnlyList<double> canaryCumulative, double canaryTotal,
        IReadOnlyList<double> stableCumulative, double stableTotal)
    {
        var tests = new RateRatioTest[Tests.Count];
        for (var b = 0; b < Bounds.Count; b++)
        {
            var i = IndexOf(les, Bounds[b]);
            if (i < 0) { tests[b] = Tests[b]; continue; }
            tests[b] = Tests[b].Observe(
                canaryTotal, canaryTotal - canaryCumulative[i],
                stableTotal, stableTotal - stableCumulative[i]);
        }
        return this with { Tests = tests };
    }

    /// <summary>The weighted average of the per-bound e-values (1 when no bound is chosen), as a log.</summary>
    [JsonIgnore] public double LogEValue
    {
        get
        {
            if (Tests.Count == 0) return 0;
            var logs = Tests.Select((t, i) => t.LogEValue + Math.Log(Weights?[i] ?? 1.0 / Tests.Count)).ToArray();
            var max = logs.Max();
            return max + Math.Log(logs.Sum(l => Math.Exp(l - max)));
        }
    }

    [JsonIgnore] public double EValue => Math.Exp(LogEValue);

    public bool Rejects(double alpha) => LogEValue >= -Math.Log(alpha);

    /// <summary>The bound with the largest evidence, for the verdict's text.</summary>
    [JsonIgnore] public (double Bound, RateRatioTest Test)? Strongest =>
        Tests.Count == 0 ? null : Bounds.Zip(Tests).MaxBy(p => p.Second.LogEValue);

    private static int IndexOf(IReadOnlyList<double> les, double bound)
    {
        for (var i = 0; i < les.Count; i++)
            if (les[i].Equals(bound)) return i;
        return -1;
    }
}
