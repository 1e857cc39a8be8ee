using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>The messages a rollout sends, built from its state.</summary>
public static class RolloutMessages
{
    // A command re-sent once applied carries when (Workers/WorkUnderWay): its deadline counts from then.
    public static PrepareCanary PrepareCommand(this RolloutState s) => new(s.CorrelationId, s.RolloutId, s.Target, s.Revision, s.Sequence, s.PendingAppliedAt);

    public static SetCanaryWeight WeightCommand(this RolloutState s) => new(s.CorrelationId, s.RolloutId, s.Target, s.DesiredWeight, s.Sequence,
        Mirror: s.StepIndex >= 0 && s.StepIndex < s.Plan.MirrorSteps); // the plan's mirroring steps (weight 0)

    public static PromoteCanary PromoteCommand(this RolloutState s) => new(s.CorrelationId, s.RolloutId, s.Target, s.Revision, s.Sequence, s.PendingAppliedAt);

    public static RollBackCanary RollbackCommand(this RolloutState s) => new(s.CorrelationId, s.RolloutId, s.Target, s.LastReason, s.Sequence);

    public static RolloutStarted Started(this RolloutState s, DateTimeOffset now) =>
        new(s.CorrelationId, s.RolloutId, s.Target, s.Revision, s.StableRevision, s.RequestedBy, now);

    public static RolloutAwaitingApproval AwaitingApproval(this RolloutState s, DateTimeOffset now) =>
        new(s.CorrelationId, s.RolloutId, s.Target, s.AppliedWeight, now);

    public static RolloutFailed FailedEvent(this RolloutState s, DateTimeOffset now) =>
        new(s.CorrelationId, s.RolloutId, s.Target, s.Revision, s.LastReason, now);

    /// <summary>Re-send whatever command the rollout is waiting on (after a lost message or a restart).</summary>
    public static Task PublishPendingAsync(this ConsumeContext context, RolloutState s) => s.Pending switch
    {
        PendingWork.Prepare => context.Publish(s.PrepareCommand()),
        PendingWork.Weight => context.Publish(s.WeightCommand()),
        PendingWork.Promote => context.Publish(s.PromoteCommand()),
        PendingWork.Rollback => context.Publish(s.RollbackCommand()),
        _ => Task.CompletedTask,
    };

    public static RolloutTransitioned Transition(this RolloutState s, string fromPhase, string phase, DateTimeOffset now) =>
        new(s.CorrelationId, s.RolloutId, s.Target, s.Revision, s.StableRevision, fromPhase, phase,
            s.AppliedWeight, s.DesiredWeight, s.StepIndex, s.Plan.Steps.Count, s.FailedChecks,
            s.ConsecutiveNoData + s.ConsecutiveErrors, s.LastReason, s.LastEvidence, s.TransitionCount, now, s.MetricsDownSince);
}
