using System.Text.Json.Serialization;

namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// A sequential test of stochastic order on a latency histogram: at a few bucket bounds b (those
/// around the stable version's p50, p90 and p99), "requests slower than b" are the events of a
/// <see cref="RateRatioTest"/>. H0: at every chosen bound the canary's share of slow requests is at
/// most (1 + tolerance) times the stable's. A median shift moves the share at the p50 bound; a
/// tail-only regression (same median, slower p99) moves the share at the p99 bound, which a
/// comparison of medians or of per-window P99 samples misses (Lindon, Sanden and Shirikian, KDD 2022,
/// test stochastic order on binned data the same way).
/// <para>
/// The combined e-value is the plain average of the per-bound e-values: an average of
/// supermartingales with fixed weights is one too, so rejecting at 1/α keeps the level α, and it is
/// never less powerful than Bonferroni (max ≥ k/α implies average ≥ 1/α). The bounds are fixed once,
/// from the stable version's histogram before the increments they judge (a predictable choice), and
/// kept for the whole rollout.
/// </para>
/// Why not a Dirichlet-multinomial Bayes factor over all buckets: it tests equality in distribution,
/// so a canary that is faster in one bucket and slower in another rejects just as much, and its
/// power spreads over ~20 buckets of which the tail ones hold 1% of the data.
/// </summary>
public sealed record LatencyTailTest(IReadOnlyList<double> Bounds, IReadOnlyList<RateRatioTest> Tests)
{
    /// <summary>Stable quantiles whose buckets are tested.</summary>
    public static readonly IReadOnlyList<double> DefaultQuantiles = [0.5, 0.9, 0.99];

    public static LatencyTailTest Start(IReadOnlyList<double> bounds, double tolerance) =>
        new(bounds, bounds.Select(_ => RateRatioTest.Start(tolerance)).ToArray());

    /// <summary>
    /// The finite bucket bounds at (or just above) the stable version's quantiles: the smallest bound
    /// whose cumulative count reaches q·total. Duplicates collapse; a quantile that lies in the +Inf
    /// bucket has no finite bound to test and is skipped. Empty when stable has no observations. A bound
    /// every stable request is under stays: a canary with requests above it is evidence too.
    /// </summary>
    public static IReadOnlyList<double> ChooseBounds(
        IReadOnlyList<double> les, IReadOnlyList<double> stableCumulative, double stableTotal, IReadOnlyList<double> quantiles)
    {
        if (les.Count != stableCumulative.Count) throw new ArgumentException("one cumulative count per bucket bound");
        if (!(stableTotal > 0)) return [];
        var chosen = new SortedSet<double>();
        foreach (var q in quantiles)
        {
            for (var i = 0; i < les.Count; i++)
            {
                if (double.IsFinite(les[i]) && stableCumulative[i] >= q * stableTotal)
                {
                    chosen.Add(les[i]);
                    break;
                }
            }
        }
        return chosen.ToArray();
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

    /// <summary>The average of the per-bound e-values (1 when no bound is chosen).</summary>
    [JsonIgnore] public double LogEValue
    {
        get
        {
            if (Tests.Count == 0) return 0;
            var logs = Tests.Select(t => t.LogEValue).ToArray();
            var max = logs.Max();
            return max + Math.Log(logs.Sum(l => Math.Exp(l - max)) / logs.Length);
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
