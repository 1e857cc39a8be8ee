namespace CanaryFlow.Contracts;

// Commands from the rollout saga to the workers that carry out its decisions. Each is idempotent
// (desired state, never an increment) so that a redelivery or a re-send after a restart is safe.
// Sequence numbers let the saga ignore stale replies.

/// <summary>Ensure the stable Deployment and routing exist, and the canary runs the new revision and is available.</summary>
/// <param name="AppliedAt">When a worker first applied this preparation (null until then): the worker never waits for the
/// canary inside the message; the ticker asks again, and the canary's deadline counts from this instant, not from when
/// the command was queued.</param>
public sealed record PrepareCanary(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, long Sequence, DateTimeOffset? AppliedAt = null);

/// <summary>Set the VirtualService weights to canary = <paramref name="Weight"/>, stable = 100 - Weight, and verify.</summary>
/// <param name="Mirror">Also mirror stable's traffic to the canary (a mirroring step, at weight 0); false stops any mirroring.</param>
public sealed record SetCanaryWeight(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, int Weight, long Sequence, bool Mirror = false);

/// <summary>Copy the canary's template to stable; once stable is available, route 100% to stable and scale the canary to zero.</summary>
/// <param name="AppliedAt">When a worker first copied the template to stable (null until then); see <see cref="PrepareCanary.AppliedAt"/>.</param>
public sealed record PromoteCanary(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Revision, long Sequence, DateTimeOffset? AppliedAt = null);

/// <summary>Route 100% to stable at once, then scale the canary to zero.</summary>
public sealed record RollBackCanary(Guid CorrelationId, Guid RolloutId, RolloutTarget Target, string Reason, long Sequence);

/// <summary>Run one analysis check. Published by the ticker when a check is due.</summary>
/// <param name="Hooks">The rollout's <c>rollout</c> hooks, run with the check (a failing one fails it).</param>
/// <param name="SequentialState">Sequential mode: the running evidence so far (null at the start).</param>
/// <param name="StepStartedAt">Sequential mode: when the current weight was applied (a step passes an interval after).</param>
public sealed record AnalysisDue(
    Guid CorrelationId,
    Guid RolloutId,
    RolloutTarget Target,
    string Revision,
    int CanaryWeight,
    long Sequence,
    DateTimeOffset DueAt,
    TimeSpan Interval,
    AnalysisSpec Spec,
    string? SequentialState = null,
    DateTimeOffset? StepStartedAt = null,
    IReadOnlyList<HookSpec>? Hooks = null);

/// <summary>The ticker found a rollout whose last command got no answer in time (lost message, restart): re-send it.</summary>
public sealed record RolloutStalled(Guid CorrelationId, long Sequence, DateTimeOffset DetectedAt);

/// <summary>A slot is free for this queued rollout (<c>Rollouts:MaxActive</c>): start it. Sent by the ticker, oldest request
/// first; <paramref name="Sequence"/> is the queued request's, so a copy left over from an earlier wait starts nothing.</summary>
public sealed record AdmitRollout(Guid CorrelationId, long Sequence, DateTimeOffset At);

/// <summary>The rollout has made no progress within its deadline.</summary>
public sealed record ProgressDeadlineExceeded(Guid CorrelationId, DateTimeOffset DetectedAt);
