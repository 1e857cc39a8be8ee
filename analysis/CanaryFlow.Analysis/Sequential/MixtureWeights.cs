namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// Where the sequential tests put their power: the weights of the mixtures over the alternatives of
/// <see cref="RateRatioTest.AlternativeMultipliers"/> (θ1/θ0 = 1.1, 1.25, 1.5, 2, 3, 5, 10, 30, 100, 1000) and of the
/// latency bounds. Any fixed non-negative weights summing to 1 keep a mixture of supermartingales a supermartingale
/// (Ville's inequality bounds its crossing of 1/α by α), so these choose which regressions are caught on the fewest
/// bad requests, never the level. A weight w costs log(1/w) of evidence at its alternative; one canary-only event at a
/// 10% split is worth at most 1/p0 ≈ 9.2 (docs/sequential-analysis.md, "What no valid test can do faster").
/// </summary>
public static class MixtureWeights
{
    /// <summary>
    /// The error-rate test: 0.6 on θ1/θ0 ≥ 100 and 0.18 on 30 (a canary whose 5xx are rare for stable but common for it:
    /// +5 pp over a 0.1% baseline is θ ≈ 51, every request failing θ ≈ 1000), so that 2 canary 5xx with none of stable's
    /// at a 10% split give e ≈ 59 ≥ 2/α = 40 (equal weights: 25.9), and still ≥ 40 when the increments that hold them
    /// happen to send the canary up to ~12% of the requests (p0 is the increment's own split); 0.1 kept on 10 (+1 pp is
    /// θ ≈ 11) and 0.12 over the small ratios. Those matter only for regressions within a few times the tolerance, which
    /// need hundreds of events to show at all; at a traffic that has them the log(1/w) they lose is paid in seconds.
    /// </summary>
    public static readonly IReadOnlyList<double> ErrorRate = [0.01, 0.01, 0.01, 0.02, 0.03, 0.04, 0.1, 0.18, 0.3, 0.3];

    /// <summary>
    /// The latency test's bounds (stable quantiles, then the far tail) with their weight in the average and the
    /// weights of their own mixtures. At a bound at or above the stable quantile q, stable's share of slower requests
    /// is at most 1 − q, so the canary's can be at most 1/(1 − q) times it: alternatives above that are impossible
    /// there and get no weight (θ1/θ0 ≤ 2 at the p50, ≤ 10 at the p90, ≤ 100 at the p99). The far tail (the bound above
    /// the p99's) holds next to no stable mass, so a tail regression shows there as a handful of canary-only requests,
    /// as rate ratios in the hundreds: it gets 0.6 of the average and leans to θ1/θ0 ≥ 100, so that 2 slow canary
    /// requests with none of stable's at a 10% split give e ≈ 41 ≥ 40 on that bound alone. A median shift shows in
    /// hundreds of requests at small ratios (median +20% is θ ≈ 1.3 at the p50 bound), where concentrating the p50's
    /// weight on the ratios it can have pays back its smaller share of the average.
    /// </summary>
    public static readonly IReadOnlyList<(double Quantile, double Weight, IReadOnlyList<double> Alternatives)> LatencyQuantiles =
    [
        (0.5, 0.1, [0.3, 0.3, 0.25, 0.15, 0, 0, 0, 0, 0, 0]),
        (0.9, 0.1, [0.1, 0.2, 0.2, 0.2, 0.15, 0.1, 0.05, 0, 0, 0]),
        (0.99, 0.2, [0, 0, 0.05, 0.05, 0.1, 0.1, 0.2, 0.25, 0.25, 0]),
    ];

    /// <summary>The far-tail bound's weight in the average and the weights of its mixture (see <see cref="LatencyQuantiles"/>).</summary>
    public static readonly (double Weight, IReadOnlyList<double> Alternatives) LatencyFarTail =
        (0.6, [0, 0, 0, 0, 0.025, 0.025, 0.05, 0.15, 0.25, 0.5]);
}
