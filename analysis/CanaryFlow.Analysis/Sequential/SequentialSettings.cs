namespace CanaryFlow.Analysis.Sequential;

/// <param name="Alpha">The false-rollback probability allowed over the whole rollout, however often it looks.
/// Split in halves between the error-rate and the latency test (Bonferroni).</param>
/// <param name="Tolerance">The regression that does not matter: H0 is canary rate ≤ (1 + tolerance) × stable rate,
/// for 5xx and for the share of requests slower than each tested latency bound.</param>
/// <param name="MinRequests">Minimum evidence: requests per arm at the current step before the step can pass.</param>
/// <param name="MinStableForBounds">Stable requests in the histogram before the latency bounds are chosen.</param>
/// <param name="HoldAt">A step whose interval is over is held instead of passed while a test's e-value is at least this (0: never).</param>
/// <param name="LatencyFloor">No latency bound below this, in the histogram's own unit (its <c>le</c> values; 0: no floor).</param>
public sealed record SequentialSettings(
    double Alpha = 0.05,
    double Tolerance = 0.1,
    double MinRequests = 50,
    double MinStableForBounds = 200,
    double HoldAt = 0,
    double LatencyFloor = 0)
{
    public double ErrorAlpha => Alpha / 2;
    public double LatencyAlpha => Alpha / 2;

    public void Validate()
    {
        if (!(Alpha is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "alpha must be in (0, 1)");
        if (!(Tolerance >= 0) || double.IsInfinity(Tolerance)) throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "tolerance must be >= 0");
        if (!(MinRequests >= 1)) throw new ArgumentOutOfRangeException(nameof(MinRequests), MinRequests, "minimum evidence must be >= 1 request per arm");
        if (!(HoldAt >= 0) || double.IsInfinity(HoldAt)) throw new ArgumentOutOfRangeException(nameof(HoldAt), HoldAt, "the hold's e-value must be a finite number >= 0");
        if (!(LatencyFloor >= 0) || double.IsInfinity(LatencyFloor)) throw new ArgumentOutOfRangeException(nameof(LatencyFloor), LatencyFloor, "the latency floor must be a finite number >= 0");
    }
}

/// <summary>One arm's cumulative counters as Prometheus reports them (sums over pods).</summary>
/// <param name="Requests">istio_requests_total.</param>
/// <param name="Errors">istio_requests_total with a 5xx code.</param>
/// <param name="Buckets">Cumulative histogram counts per finite bound (the snapshot's Les order); empty without a histogram.</param>
/// <param name="LatencyCount">The histogram's +Inf bucket (its _count).</param>
public sealed record ArmCounters(double Requests, double Errors, IReadOnlyList<double> Buckets, double LatencyCount)
{
    public static ArmCounters Counts(double requests, double errors) => new(requests, errors, [], 0);
}

/// <summary>Both arms' counters at one tick. <paramref name="Les"/>: the histogram's finite bucket bounds, ascending.</summary>
public sealed record CounterSnapshot(ArmCounters Canary, ArmCounters Stable, IReadOnlyList<double> Les);

public enum SequentialOutcome
{
    /// <summary>A test rejected "canary no worse than stable": roll back now.</summary>
    Reject,
    /// <summary>The step's interval has passed, the minimum evidence is in and no test rejects.</summary>
    Pass,
    /// <summary>Not decided yet: keep collecting (never a pass on missing data); also a step held on strong evidence.</summary>
    Continue,
}

/// <param name="Test">"error-rate", "latency-tail", "minimum-evidence", "interval", "hold" (<see cref="SequentialEvidence.HoldTest"/>) or "sequential" (a pass).</param>
/// <param name="Detail">The evidence in words: counts, the e-value, the α spent.</param>
public sealed record SequentialDecision(SequentialOutcome Outcome, string Test, string Detail);
