using CanaryFlow.Analysis.Sequential;
using CanaryFlow.Sandbox.Simulation;

namespace CanaryFlow.Benchmarks.Sequential;

public enum RunOutcome { RolledBack, Promoted, Unfinished }

/// <param name="Seconds">When the rollout was rolled back or promoted (or the time limit).</param>
/// <param name="Bad">Bad requests served by the canary until then (see <see cref="BadKind"/>).</param>
/// <param name="Step">The step (0 = the first, 10%) the rollout was at when it ended.</param>
public readonly record struct RunResult(RunOutcome Outcome, int Seconds, long Bad, int Step = 0);

/// <summary>
/// One rollout of one scenario under one judge, second by second: Poisson arrivals at a load that
/// swings ±50% over 10 minutes, split by the current step's weight (10, 20, ..., 50, then promotion: Flagger's usual
/// stepWeight/maxWeight, and a stable version that keeps traffic to compare with), optional bursts
/// of 5xx in both versions, optional metrics outage. The stable version's counters start with its past (it served
/// alone before the rollout, as in a cluster). The seed fixes the stream: every judge sees the same requests for as
/// long as it takes the same decisions.
/// </summary>
public static class RolloutSimulation
{
    public static readonly IReadOnlyList<int> Steps = Enumerable.Range(1, 5).Select(i => i * 10).ToArray();
    public const int MaxSeconds = 3600;

    /// <param name="stableHistorySeconds">How long the stable version served (alone, at the scenario's mean load) before the
    /// rollout: its counters start with that history, as a cluster's do.</param>
    public static RunResult Run(Scenario scenario, IJudge judge, int seed, int stableHistorySeconds)
    {
        var stream = Stream(scenario, seed, stableHistorySeconds);
        var history = new List<CounterSnapshot>(MaxSeconds + 1) { stream.Snapshot() };
        var (step, stepStart, burstUntil) = (0, 0, -1);
        for (var t = 1; t <= MaxSeconds; t++)
        {
            var load = scenario.RequestsPerSecond * (1 + 0.5 * Math.Sin(2 * Math.PI * t / 600));
            if (scenario.Bursts && t > burstUntil && stream.NextDouble() < 1.0 / 180) burstUntil = t + 10;
            stream.Serve(load, Steps[step], scenario.Canary, ArmBehaviour.Healthy, t <= burstUntil ? 0.1 : 0);
            history.Add(stream.Snapshot());
            switch (judge.Tick(t, stepStart, Steps[step], history, scenario.MetricsDown(t)))
            {
                case JudgeAction.Rollback:
                    return new RunResult(RunOutcome.RolledBack, t, Bad(scenario, stream), step);
                case JudgeAction.Next when step == Steps.Count - 1:
                    return new RunResult(RunOutcome.Promoted, t, Bad(scenario, stream), step);
                case JudgeAction.Next:
                    (step, stepStart) = (step + 1, t);
                    break;
            }
        }
        return new RunResult(RunOutcome.Unfinished, MaxSeconds, Bad(scenario, stream), step);
    }

    /// <summary>The seeded stream of one run, the stable version's history already served (its own seed).</summary>
    public static RequestStream Stream(Scenario scenario, int seed, int stableHistorySeconds)
    {
        var stream = new RequestStream(seed);
        stream.ServeStableHistory(stableHistorySeconds, scenario.RequestsPerSecond, ArmBehaviour.Healthy, seed ^ 0x5EED);
        return stream;
    }

    private static long Bad(Scenario scenario, RequestStream stream) =>
        scenario.Bad == BadKind.Errors ? stream.Canary.Errors : stream.Canary.Requests;
}
