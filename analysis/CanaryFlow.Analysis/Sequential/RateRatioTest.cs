using System.Text.Json.Serialization;

namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// An anytime-valid test of "the canary's event rate is at most (1 + tolerance) times the stable
/// version's", on counts only (events = 5xx responses, or requests slower than a latency bound).
/// <para>
/// Model (Lindon and Malek, "Anytime-Valid Inference for Multinomial Count Data", NeurIPS 2022;
/// Lindon, Sanden and Shirikian, "Rapid Regression Detection in Software Deployments through
/// Sequential Testing", KDD 2022): events are Poisson with exposure = requests, so given the n events
/// of one increment (both arms), each is the canary's with probability
/// p = Nc·θ / (Nc·θ + Ns), θ = canary rate / stable rate, Nc and Ns the increment's requests.
/// Under H0 (θ ≤ θ0 = 1 + tolerance) p ≤ p0 = Nc·θ0 / (Nc·θ0 + Ns). For an alternative θ1 &gt; θ0 the
/// increment's likelihood ratio (p1/p0)^x ((1-p1)/(1-p0))^(n-x) is increasing in x, so its expectation
/// is at most 1 under every p ≤ p0; the product over increments is a non-negative supermartingale
/// under H0, and so is an average of such products over a fixed grid of θ1 (a discrete mixture).
/// Ville's inequality then bounds P(sup_t E_t ≥ 1/α) ≤ α: the test may look after every tick and
/// stop at the first crossing without inflating false alarms. p0 is computed per increment, so traffic
/// weights that change between steps (or within load swings) are handled exactly.
/// </para>
/// <para>
/// Bernoulli events (each request errors or not) rather than Poisson: when both arms have the same
/// rate, x given n is hypergeometric, which is smaller than the binomial in the convex order
/// (Hoeffding 1963, Theorem 4), so the likelihood ratio (convex in x) still has expectation ≤ 1.
/// For a rate ratio above 1 at large rates (e.g. a 50% tail share) the Poisson model is an approximation;
/// the A/A case (the one that decides false rollbacks) is exact.
/// </para>
/// The state is one log likelihood ratio per alternative plus running counts and the mixture's weights: immutable,
/// small, and serialisable, so a restarted controller resumes the same test with the weights it started with.
/// </summary>
/// <param name="Weights">The mixture's weight per alternative of <see cref="AlternativeMultipliers"/> (non-negative, summing
/// to 1), fixed when the test starts; null (evidence saved before weights existed) is the plain average it was started with.
/// Any fixed weights keep the mixture a supermartingale under H0, so they choose where the power goes, never the level.</param>
public sealed record RateRatioTest(
    double NullRatio,
    IReadOnlyList<double> LogLikelihoodRatios,
    double CanaryEvents,
    double CanaryExposure,
    double StableEvents,
    double StableExposure,
    IReadOnlyList<double>? Weights = null)
{
    /// <summary>Alternatives θ1 as multiples of θ0: from a 10% excess to a canary failing (almost) every request.</summary>
    public static readonly IReadOnlyList<double> AlternativeMultipliers = [1.1, 1.25, 1.5, 2, 3, 5, 10, 30, 100, 1000];

    /// <summary>Starts the test; <paramref name="weights"/> per alternative (null: equal weights).</summary>
    public static RateRatioTest Start(double tolerance, IReadOnlyList<double>? weights = null)
    {
        if (!(tolerance >= 0) || double.IsInfinity(tolerance))
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "tolerance must be a finite number >= 0");
        if (weights is not null && !ValidWeights(weights))
            throw new ArgumentException($"one weight >= 0 per alternative ({AlternativeMultipliers.Count}), summing to 1", nameof(weights));
        return new RateRatioTest(1 + tolerance, new double[AlternativeMultipliers.Count], 0, 0, 0, 0, weights?.ToArray());
    }

    /// <summary>One finite weight ≥ 0 per alternative, summing to 1.</summary>
    public static bool ValidWeights(IReadOnlyList<double> weights) =>
        weights.Count == AlternativeMultipliers.Count && weights.All(w => w >= 0 && double.IsFinite(w)) && Math.Abs(weights.Sum() - 1) <= 1e-9;

    /// <summary>
    /// Adds one increment: the canary's and the stable version's new requests and new events. Counts are
    /// clamped to 0 ≤ events ≤ requests; an increment where either arm had no requests says nothing about
    /// the ratio and only adds to the totals.
    /// </summary>
    public RateRatioTest Observe(double canaryRequests, double canaryEvents, double stableRequests, double stableEvents)
    {
        var nc = Clean(canaryRequests);
        var ns = Clean(stableRequests);
        var x = Math.Min(Clean(canaryEvents), nc);
        var y = Math.Min(Clean(stableEvents), ns);
        var next = this with
        {
            CanaryEvents = CanaryEvents + x, CanaryExposure = CanaryExposure + nc,
            StableEvents = StableEvents + y, StableExposure = StableExposure + ns,
        };
        if (nc <= 0 || ns <= 0 || x + y <= 0) return next;

        // log[(p1/p0)^x ((1-p1)/(1-p0))^y] with p = Nc·θ/(Nc·θ + Ns), written so that no 1 - p is rounded away:
        // x·log(θ1/θ0) + (x + y)·log((Nc·θ0 + Ns) / (Nc·θ1 + Ns)).
        var logs = new double[LogLikelihoodRatios.Count];
        for (var i = 0; i < logs.Length; i++)
        {
            var m = AlternativeMultipliers[i];
            logs[i] = LogLikelihoodRatios[i] + x * Math.Log(m) + (x + y) * Math.Log((nc * NullRatio + ns) / (nc * NullRatio * m + ns));
        }
        return next with { LogLikelihoodRatios = logs };
    }

    /// <summary>The e-value: the mixture's likelihood ratio, 1 before any evidence. Reject H0 when it reaches 1/α.</summary>
    [JsonIgnore] public double EValue => Math.Exp(LogEValue);

    /// <summary>log of <see cref="EValue"/>, computed without overflow (log-sum-exp).</summary>
    [JsonIgnore] public double LogEValue
    {
        get
        {
            // log Σ w_i·exp(l_i), over the alternatives with a weight (log-sum-exp). Stored weights that do not fit the
            // ratios (a damaged state) count as none: equal weights, rather than an exception on every check.
            var weights = Weights?.Count == LogLikelihoodRatios.Count ? Weights : null;
            var logs = LogLikelihoodRatios.Select((l, i) => l + Math.Log(weights?[i] ?? 1.0 / LogLikelihoodRatios.Count))
                .Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
            var max = logs.Max();
            return max + Math.Log(logs.Sum(l => Math.Exp(l - max)));
        }
    }

    public bool Rejects(double alpha) => LogEValue >= -Math.Log(alpha);

    /// <summary>Observed rate ratio (canary rate / stable rate), null while either arm has no exposure or stable no events.</summary>
    [JsonIgnore] public double? ObservedRatio =>
        CanaryExposure > 0 && StableExposure > 0 && StableEvents > 0
            ? CanaryEvents / CanaryExposure / (StableEvents / StableExposure)
            : null;

    private static double Clean(double value) => double.IsFinite(value) && value > 0 ? value : 0;
}
