using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Sandbox.Simulation;

/// <summary>
/// How one version answers, for synthetic request streams: a 5xx probability and a log-normal latency
/// (median, sigma), optionally with a slow path taken by a share of requests (a tail-only regression).
/// </summary>
public sealed record ArmBehaviour(double ErrorRate, double MedianMs = 50, double Sigma = 0.5, double SlowShare = 0, double SlowExtraMs = 0)
{
    public static readonly ArmBehaviour Healthy = new(0.001);
}

/// <summary>Cumulative counters of one version, the way Prometheus sums Istio's: requests, 5xx, duration histogram.</summary>
public sealed class ArmTally
{
    /// <summary>Per bucket of <see cref="IstioStyleMetrics.DurationBuckets"/>, plus the last for +Inf; not cumulative.</summary>
    private readonly long[] _buckets = new long[IstioStyleMetrics.DurationBuckets.Length + 1];

    public long Requests { get; private set; }
    public long Errors { get; private set; }

    public void Add(bool error, double milliseconds)
    {
        Requests++;
        if (error) Errors++;
        var i = Array.BinarySearch(IstioStyleMetrics.DurationBuckets, milliseconds);
        _buckets[i >= 0 ? i : ~i]++;
    }

    /// <summary>Cumulative counts per finite bound (Prometheus' le buckets).</summary>
    public double[] Cumulative()
    {
        var result = new double[IstioStyleMetrics.DurationBuckets.Length];
        long sum = 0;
        for (var i = 0; i < result.Length; i++) result[i] = sum += _buckets[i];
        return result;
    }
}

/// <summary>
/// A seeded synthetic request stream: Poisson arrivals, each request routed to the canary with the
/// current weight, answered by that version's <see cref="ArmBehaviour"/> plus any extra error rate
/// (a burst that hits both versions alike). No sockets and no clock: the benchmark and the statistics
/// tests run thousands of rollouts through it in seconds.
/// </summary>
public sealed class RequestStream(int seed)
{
    private readonly Random _random = new(seed);

    public ArmTally Canary { get; } = new();
    public ArmTally Stable { get; } = new();

    /// <summary>One slice of time: Poisson(<paramref name="meanRequests"/>) arrivals split by <paramref name="canaryPercent"/>.</summary>
    public (int Canary, int Stable) Serve(double meanRequests, double canaryPercent, ArmBehaviour canary, ArmBehaviour stable, double extraErrorRate = 0)
    {
        var n = Poisson(meanRequests);
        var toCanary = 0;
        for (var i = 0; i < n; i++)
        {
            var isCanary = _random.NextDouble() * 100 < canaryPercent;
            var behaviour = isCanary ? canary : stable;
            (isCanary ? Canary : Stable).Add(_random.NextDouble() < behaviour.ErrorRate + extraErrorRate, Latency(_random, behaviour));
            if (isCanary) toCanary++;
        }
        return (toCanary, n - toCanary);
    }

    /// <summary>
    /// The stable version's past before the rollout: <paramref name="seconds"/> of Poisson arrivals at
    /// <paramref name="meanPerSecond"/>, all to stable, drawn from their own seed so the rollout's own stream (and every
    /// judge that reads only window differences) stays the same with or without it. In a cluster the stable pods have
    /// served before the canary starts, and the controller reads cumulative counters that include it.
    /// </summary>
    public void ServeStableHistory(int seconds, double meanPerSecond, ArmBehaviour stable, int seed)
    {
        var random = new Random(seed);
        for (var t = 0; t < seconds; t++)
        {
            var n = Poisson(random, meanPerSecond);
            for (var i = 0; i < n; i++) Stable.Add(random.NextDouble() < stable.ErrorRate, Latency(random, stable));
        }
    }

    public double NextDouble() => _random.NextDouble();

    /// <summary>Both versions' cumulative counters now, as the controller reads them from Prometheus.</summary>
    public CounterSnapshot Snapshot() => new(Counters(Canary), Counters(Stable), IstioStyleMetrics.DurationBuckets);

    private static ArmCounters Counters(ArmTally t) => new(t.Requests, t.Errors, t.Cumulative(), t.Requests);

    /// <summary>Poisson by Knuth's product method, in chunks of mean ≤ 30 so that e^-λ never underflows.</summary>
    public int Poisson(double mean) => Poisson(_random, mean);

    private static int Poisson(Random random, double mean)
    {
        var total = 0;
        for (var left = Math.Max(0, mean); left > 0; left -= 30)
        {
            var limit = Math.Exp(-Math.Min(left, 30));
            var product = random.NextDouble();
            while (product > limit) { total++; product *= random.NextDouble(); }
        }
        return total;
    }

    private static double Latency(Random random, ArmBehaviour b)
    {
        // Box-Muller: one standard normal from two uniforms.
        var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var ms = b.MedianMs * Math.Exp(b.Sigma * z);
        return b.SlowShare > 0 && random.NextDouble() < b.SlowShare ? ms + b.SlowExtraMs : ms;
    }
}
