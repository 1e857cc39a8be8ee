using System.Globalization;

namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// The running evidence of one rollout: the last counters seen, the error-rate test, the latency
/// test (once its bounds are chosen) and the requests per arm at the current step. Immutable; each
/// tick makes a new one, which the caller stores durably so that a restart resumes the same test.
/// Counters are cumulative: an increment is the difference between two snapshots, so a tick that
/// was missed (a Prometheus outage) is simply folded into the next increment, and the test loses
/// nothing. A counter that went down (pods restarted, the sum reset) re-baselines without evidence.
/// </summary>
public sealed record SequentialEvidence(
    CounterSnapshot? Last,
    RateRatioTest Errors,
    LatencyTailTest? Latency,
    double StepCanaryRequests,
    double StepStableRequests)
{
    public static SequentialEvidence Start(SequentialSettings settings)
    {
        settings.Validate();
        return new SequentialEvidence(null, RateRatioTest.Start(settings.Tolerance, MixtureWeights.ErrorRate), null, 0, 0);
    }

    /// <summary>A new step (new weight): the minimum evidence counts again; the tests keep their evidence.</summary>
    public SequentialEvidence StartStep() => this with { StepCanaryRequests = 0, StepStableRequests = 0 };

    public SequentialEvidence Observe(CounterSnapshot now, SequentialSettings settings)
    {
        if (Last is not { } last) return this with { Last = now, Latency = Latency ?? ChooseLatency(now, settings) };
        var (c, s) = (now.Canary, now.Stable);
        var (lc, ls) = (last.Canary, last.Stable);
        if (c.Requests < lc.Requests || s.Requests < ls.Requests || c.Errors < lc.Errors || s.Errors < ls.Errors)
            return this with { Last = now };

        var dc = c.Requests - lc.Requests;
        var ds = s.Requests - ls.Requests;
        var errors = Errors.Observe(dc, c.Errors - lc.Errors, ds, s.Errors - ls.Errors);
        var latency = Latency;
        if (latency is not null && SameLes(now, last) && Grew(c, lc) && Grew(s, ls))
            latency = latency.Observe(now.Les,
                Diff(c.Buckets, lc.Buckets), c.LatencyCount - lc.LatencyCount,
                Diff(s.Buckets, ls.Buckets), s.LatencyCount - ls.LatencyCount);
        latency ??= ChooseLatency(now, settings);
        return new SequentialEvidence(now, errors, latency, StepCanaryRequests + dc, StepStableRequests + ds);
    }

    /// <summary>The decision's test when a step is held (<see cref="Decide"/>).</summary>
    public const string HoldTest = "hold";

    /// <summary>
    /// Reject the moment a test crosses 1/α (its share of α); pass once the interval has passed with the
    /// minimum evidence in; otherwise continue. No data never passes. At a step that sends the stable
    /// version nothing (<paramref name="stableServes"/> false: the canary has 100%), only the canary's
    /// requests count toward the minimum: there is nothing left to compare with.
    /// <para>
    /// The hold (<see cref="SequentialSettings.HoldAt"/> &gt; 0): a step whose interval is over is not passed while a test's
    /// e-value is at least HoldAt (strong evidence, not yet decisive) until <paramref name="holdOver"/> (the step has run
    /// its interval plus the longest hold). It stays anytime-valid: only a crossing of 1/α rejects, and Ville's inequality
    /// bounds the chance that one ever happens under H0 however long the steps last; holding only keeps a weight, chosen
    /// from past data, for longer. A regression whose evidence is building stays at the low weight until it decides.
    /// </para>
    /// </summary>
    public SequentialDecision Decide(SequentialSettings settings, bool intervalElapsed, bool stableServes = true, bool holdOver = true)
    {
        if (Errors.Rejects(settings.ErrorAlpha))
            return new SequentialDecision(SequentialOutcome.Reject, "error-rate", Describe(settings));
        if (Latency?.Rejects(settings.LatencyAlpha) == true)
            return new SequentialDecision(SequentialOutcome.Reject, "latency-tail", Describe(settings));
        if (StepCanaryRequests < settings.MinRequests || (stableServes && StepStableRequests < settings.MinRequests))
            return new SequentialDecision(SequentialOutcome.Continue, "minimum-evidence",
                $"{F(StepCanaryRequests)} canary and {F(StepStableRequests)} stable requests at this step, min {F(settings.MinRequests)} each; " + Describe(settings));
        if (!intervalElapsed)
            return new SequentialDecision(SequentialOutcome.Continue, "interval", "interval not over; " + Describe(settings));
        if (!holdOver && Held(settings) is (var test, var e, var alpha))
            return new SequentialDecision(SequentialOutcome.Continue, HoldTest,
                $"step held: {test} e={F(e)} ≥ {F(settings.HoldAt)}, strong evidence against the canary but not decisive (rejects at {F(1 / alpha)}); " +
                "the step passes when it falls below or at the hold's end; " + Describe(settings));
        return new SequentialDecision(SequentialOutcome.Pass, "sequential", Describe(settings));
    }

    /// <summary>The test whose e-value reaches <see cref="SequentialSettings.HoldAt"/> (the error-rate test first), if any.</summary>
    public (string Test, double EValue, double Alpha)? Held(SequentialSettings settings)
    {
        if (!(settings.HoldAt > 0)) return null;
        if (Errors.EValue >= settings.HoldAt) return ("error-rate", Errors.EValue, settings.ErrorAlpha);
        if (Latency is { } latency && latency.EValue >= settings.HoldAt) return ("latency-tail", latency.EValue, settings.LatencyAlpha);
        return null;
    }

    /// <summary>Counts, e-values and the α each test has spent (1/e: the smallest α at which it would reject).</summary>
    public string Describe(SequentialSettings settings)
    {
        var e = Errors;
        var text = $"error-rate: canary {F(e.CanaryEvents)}/{F(e.CanaryExposure)} 5xx, stable {F(e.StableEvents)}/{F(e.StableExposure)}, " +
                   $"e={F(e.EValue)} (α spent {F(Spent(e.LogEValue))} of {F(settings.ErrorAlpha)}, tolerance {F(settings.Tolerance)})";
        if (Latency?.Strongest is var (bound, t))
            text += $"; latency-tail: slower than {F(bound)} ms canary {F(t.CanaryEvents)}/{F(t.CanaryExposure)}, stable {F(t.StableEvents)}/{F(t.StableExposure)}, " +
                    $"e={F(Latency.EValue)} over bounds [{string.Join(", ", Latency.Bounds.Select(F))}] (α spent {F(Spent(Latency.LogEValue))} of {F(settings.LatencyAlpha)})";
        else
            text += "; latency-tail: no bounds yet (too little stable histogram data)";
        return text;
    }

    private static double Spent(double logE) => Math.Min(1, Math.Exp(-logE));

    private static LatencyTailTest? ChooseLatency(CounterSnapshot now, SequentialSettings settings)
    {
        var s = now.Stable;
        if (now.Les.Count == 0 || s.Buckets.Count != now.Les.Count || s.LatencyCount < settings.MinStableForBounds) return null;
        return LatencyTailTest.StartFromStable(now.Les, s.Buckets, s.LatencyCount, settings.Tolerance, settings.LatencyFloor);
    }

    private static bool SameLes(CounterSnapshot a, CounterSnapshot b) =>
        a.Les.SequenceEqual(b.Les) && a.Canary.Buckets.Count == a.Les.Count && a.Stable.Buckets.Count == a.Les.Count
        && b.Canary.Buckets.Count == b.Les.Count && b.Stable.Buckets.Count == b.Les.Count;

    private static bool Grew(ArmCounters now, ArmCounters last) =>
        now.LatencyCount >= last.LatencyCount && now.Buckets.Zip(last.Buckets).All(p => p.First >= p.Second);

    private static double[] Diff(IReadOnlyList<double> now, IReadOnlyList<double> last) =>
        now.Zip(last, (a, b) => a - b).ToArray();

    private static string F(double v) => v.ToString(v is > 0 and < 0.01 ? "0.###e0" : "0.###", CultureInfo.InvariantCulture);
}
