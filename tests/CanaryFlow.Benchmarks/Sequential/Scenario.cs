using CanaryFlow.Sandbox.Simulation;

namespace CanaryFlow.Benchmarks.Sequential;

/// <summary>What counts as a bad request: a canary 5xx, or any request the (slower) canary served.</summary>
public enum BadKind { Errors, Served }

/// <param name="RequestsPerSecond">Mean load; it swings ±50% over 10 minutes.</param>
/// <param name="Bursts">Noisy: bursts of 10% 5xx (10 s, about one every 3 minutes) hit both versions alike.</param>
/// <param name="Outage">Seconds [from, to) in which Prometheus does not answer.</param>
public sealed record Scenario(
    string Name, ArmBehaviour Canary, bool Healthy, BadKind Bad = BadKind.Errors,
    double RequestsPerSecond = 20, bool Bursts = false, (int From, int To)? Outage = null)
{
    private static readonly ArmBehaviour Base = ArmBehaviour.Healthy;

    // p99 regressions with the same median: 2% of canary requests take a slow path. With a log-normal
    // median 50 ms, sigma 0.5, the stable p99 is ~160 ms, so the canary p99 is ~50 ms + the extra.
    public static IReadOnlyList<Scenario> All() =>
    [
        new("A/A healthy, quiet", Base, Healthy: true),
        new("A/A healthy, noisy (5xx bursts in both)", Base, Healthy: true, Bursts: true),
        new("A/A healthy, Prometheus down 4 min (150-390 s)", Base, Healthy: true, Outage: (150, 390)),
        new("no traffic (0 requests)", Base, Healthy: true, RequestsPerSecond: 0),
        new("5xx +100 pp (every request fails)", Base with { ErrorRate = 1 }, false),
        new("5xx +25 pp", Base with { ErrorRate = 0.251 }, false),
        new("5xx +5 pp", Base with { ErrorRate = 0.051 }, false),
        new("5xx +1 pp", Base with { ErrorRate = 0.011 }, false),
        new("5xx +5 pp, noisy (5xx bursts in both)", Base with { ErrorRate = 0.051 }, false, Bursts: true),
        new("p99 +100 ms, same median", Base with { SlowShare = 0.02, SlowExtraMs = 210 }, false, BadKind.Served),
        new("p99 +400 ms, same median", Base with { SlowShare = 0.02, SlowExtraMs = 510 }, false, BadKind.Served),
        new("median +20%", Base with { MedianMs = 60 }, false, BadKind.Served),
        new("5xx +5 pp, low traffic (2 req/s)", Base with { ErrorRate = 0.051 }, false, RequestsPerSecond: 2),
    ];

    public int Runs(int healthyRuns, int runs) => Healthy ? healthyRuns : runs;

    public bool MetricsDown(int second) => Outage is var (from, to) && second >= from && second < to;
}
