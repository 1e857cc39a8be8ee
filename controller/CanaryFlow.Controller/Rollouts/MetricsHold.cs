using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The end of a hold (sequential mode): the metrics source answers again after an outage. The start of a hold is
/// announced where the check is recorded (<see cref="RolloutState.CheckInconclusive"/>); its end is announced here,
/// before the answering check is recorded, so people see "resumed" as well as "holding" (status, Events, notifications).
/// </summary>
public static class MetricsHold
{
    /// <summary>A check that answered (anything but a query error) while the rollout held.</summary>
    public static bool EndsWith(this RolloutState s, InconclusiveKind kind) =>
        s.Plan?.Analysis.Sequential != null && s.MetricsDownSince != null && kind != InconclusiveKind.QueryError;

    public static void EndHold(this RolloutState s, DateTimeOffset now)
    {
        var down = s.MetricsDownSince is { } since ? now - since : TimeSpan.Zero;
        s.MetricsDownSince = null;
        s.Note($"the metrics source answers again after {down.TotalSeconds:0} s; resuming at {s.AppliedWeight}%", now);
    }
}
