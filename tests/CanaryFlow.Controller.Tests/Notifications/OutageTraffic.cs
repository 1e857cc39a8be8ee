using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>
/// The transitions of four rollouts as the saga publishes them over half an hour: two promoted step by step,
/// two rolled back after failed checks. Each rollout starts a minute after the previous one; a transition
/// every four minutes.
/// </summary>
public static class OutageTraffic
{
    private static readonly (string From, string To, int Weight)[] Promoted =
    [
        (RolloutPhases.Initializing, RolloutPhases.Progressing, 10), (RolloutPhases.Progressing, RolloutPhases.Progressing, 20),
        (RolloutPhases.Progressing, RolloutPhases.Progressing, 50), (RolloutPhases.Progressing, RolloutPhases.Progressing, 100),
        (RolloutPhases.Progressing, RolloutPhases.Promoting, 100), (RolloutPhases.Promoting, RolloutPhases.Succeeded, 0),
    ];

    private static readonly (string From, string To, int Weight)[] RolledBack =
    [
        (RolloutPhases.Initializing, RolloutPhases.Progressing, 10), (RolloutPhases.Progressing, RolloutPhases.Progressing, 20),
        (RolloutPhases.Progressing, RolloutPhases.RollingBack, 0), (RolloutPhases.RollingBack, RolloutPhases.Failed, 0),
    ];

    /// <summary>Every transition with the simulated time it is published at, in publishing order.</summary>
    public static IReadOnlyList<(TimeSpan At, RolloutTransitioned Transition)> Schedule()
    {
        var all = new List<(TimeSpan, RolloutTransitioned)>();
        for (var r = 0; r < 4; r++)
        {
            var target = new RolloutTarget("shop", $"service-{r}");
            var steps = r % 2 == 0 ? Promoted : RolledBack;
            for (var i = 0; i < steps.Length; i++)
            {
                var at = TimeSpan.FromMinutes(2 + r + 4 * i);
                var (from, to, weight) = steps[i];
                all.Add((at, new RolloutTransitioned(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, "v2"), target, "v2", "v1",
                    from, to, weight, weight, i, steps.Length, to == RolloutPhases.RollingBack ? 2 : 0, 0, $"{from} → {to}", null,
                    i + 1, SimulatedClock.Start + at)));
            }
        }
        return [.. all.OrderBy(x => x.Item1)];
    }
}
