using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The end of a hold: the metrics source answers again after an outage (either mode). The start of a hold is
/// announced where the check is recorded (<see cref="RolloutState.CheckInconclusive"/>); its end is announced here,
/// before the answering check is recorded, whatever that check says (passed, failed, no decision yet), so people
/// see "resumed" as well as "holding" (status phase, Events, notifications).
/// </summary>
public static class MetricsHold
{
    /// <summary>The rollout holds: its metrics source has not answered since <see cref="RolloutState.MetricsDownSince"/>.</summary>
    public static bool Holds(this RolloutState s) => s.MetricsDownSince != null;

    public static void EndHold(this RolloutState s, DateTimeOffset now)
    {
        var down = s.MetricsDownSince is { } since ? now - since : TimeSpan.Zero;
        s.MetricsDownSince = null;
        // An outage of the metrics source is not the rollout's lack of progress: its time is not counted against the
        // progress deadline (otherwise a 10 min outage deadline would meet a shorter progress deadline first).
        s.LastProgressAt += down;
        s.Note($"the metrics source answers again after {down.TotalSeconds:0} s; resuming at {s.AppliedWeight}%", now);
    }

    /// <summary>Ends and announces a hold when the check in hand <paramref name="answered"/> (a pass or a failure always
    /// did; an inconclusive check did unless it was a query error).</summary>
    public static EventActivityBinder<RolloutState, T> EndHoldIfAnswered<T>(this EventActivityBinder<RolloutState, T> binder,
        Func<T, bool> answered, Func<DateTimeOffset> now) where T : class =>
        binder.If(c => c.Saga.Holds() && answered(c.Message), resumed => resumed
            .Then(c => c.Saga.EndHold(now()))
            .Announce(now));
}
