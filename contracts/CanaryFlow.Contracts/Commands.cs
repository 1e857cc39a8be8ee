namespace CanaryFlow.Contracts;

// Commands that steer a rollout. Addressed by CorrelationId = RolloutIds.ForTarget(Target).
// Each carries who asked (Actor, e.g. "user:alice", "slack:U123", "watch:deployment") and why.

/// <summary>Start a canary rollout of <paramref name="Revision"/> (pod-template hash or image digest) for a target.</summary>
public sealed record RolloutRequested(
    Guid CorrelationId,
    Guid RolloutId,
    RolloutTarget Target,
    string Revision,
    string? Image,
    RolloutPlan Plan,
    string Actor,
    string Reason,
    DateTimeOffset RequestedAt);

/// <summary>Finish now: skip remaining steps (or pass an approval gate) and promote.</summary>
/// <param name="GateSequence">Set by confirm-* hooks: the yes passes only the gate it was asked at (the saga's
/// command sequence then), never a later one, and never skips steps outside a gate.</param>
public sealed record PromoteRollout(Guid CorrelationId, RolloutTarget Target, string Actor, string Reason, long? GateSequence = null);

/// <summary>Roll back now: all traffic to stable, canary scaled to zero.</summary>
public sealed record AbortRollout(Guid CorrelationId, RolloutTarget Target, string Actor, string Reason);

/// <summary>Stay at the current weight; analysis keeps running and a breach still rolls back.</summary>
public sealed record PauseRollout(Guid CorrelationId, RolloutTarget Target, string Actor, string Reason);

public sealed record ResumeRollout(Guid CorrelationId, RolloutTarget Target, string Actor, string Reason);

/// <summary>Run a failed or rolled-back rollout again, same revision, from the first step.</summary>
public sealed record RetryRollout(Guid CorrelationId, RolloutTarget Target, string Actor, string Reason);
