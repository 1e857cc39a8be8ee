namespace CanaryFlow.Contracts;

/// <summary>
/// A snapshot published by the saga on every change of phase or weight: the one feed that
/// observers (notifications, status page, metrics, Kubernetes Events, CLI) read, so that none of
/// them has to reassemble state from the individual facts.
/// </summary>
/// <param name="HoldingSince">Since when the metrics source has not answered (the rollout holds); null otherwise.</param>
public sealed record RolloutTransitioned(
    Guid CorrelationId,
    Guid RolloutId,
    RolloutTarget Target,
    string Revision,
    string? StableRevision,
    string FromPhase,
    string Phase,
    int CanaryWeight,
    int DesiredWeight,
    int StepIndex,
    int StepCount,
    int FailedChecks,
    int InconclusiveChecks,
    string Reason,
    AnalysisEvidence? LastAnalysis,
    long Version,
    DateTimeOffset At,
    DateTimeOffset? HoldingSince = null);

/// <summary>Phase names, as Flagger users know them.</summary>
public static class RolloutPhases
{
    /// <summary>Requested, waiting for a free slot: the controller runs at most <c>Rollouts:MaxActive</c> rollouts at a
    /// time (per replica), the others wait in request order. Nothing has been asked of the canary yet.</summary>
    public const string Queued = nameof(Queued);
    public const string Initializing = nameof(Initializing);
    public const string Progressing = nameof(Progressing);
    public const string Paused = nameof(Paused);
    public const string WaitingApproval = nameof(WaitingApproval);
    public const string Promoting = nameof(Promoting);
    public const string Succeeded = nameof(Succeeded);
    public const string RollingBack = nameof(RollingBack);
    public const string Failed = nameof(Failed);

    /// <summary>Not a state of the rollout: how people see a rollout that holds because its metrics source does not
    /// answer (sequential mode; weights frozen, resumes when it answers). Its state stays Progressing (or Paused, …).</summary>
    public const string Holding = nameof(Holding);
}
