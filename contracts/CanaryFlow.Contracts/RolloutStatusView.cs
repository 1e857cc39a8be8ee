namespace CanaryFlow.Contracts;

/// <summary>
/// What the controller's status API (<c>GET /api/rollouts</c>, <c>GET /api/rollouts/{ns}/{name}</c>)
/// returns for one rollout: read by the CLI, the status page and chat replies.
/// </summary>
/// <param name="HoldingSince">Since when the rollout holds because its metrics source does not answer.</param>
public sealed record RolloutStatusView(
    RolloutTarget Target,
    Guid RolloutId,
    string Revision,
    string? StableRevision,
    string Phase,
    int CanaryWeight,
    int DesiredWeight,
    int StepIndex,
    IReadOnlyList<int> Steps,
    int FailedChecks,
    int FailureLimit,
    string LastReason,
    AnalysisEvidence? LastAnalysis,
    DateTimeOffset LastTransitionAt,
    IReadOnlyList<RolloutTransitioned> History,
    string? Strategy = null,
    DateTimeOffset? HoldingSince = null);
