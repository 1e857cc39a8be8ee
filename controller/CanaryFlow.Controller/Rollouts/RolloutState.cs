using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The durable state of one target's rollout (one saga per target). It records the weight the
/// rollout wants and the weight it has applied, so that a restart re-applies the wanted weight
/// (idempotent) and continues. Only the state machine changes it.
/// </summary>
public sealed partial class RolloutState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "Initial";

    /// <summary>Incremented by every durable save (optimistic concurrency in the store).</summary>
    public long Version { get; set; }

    public Guid RolloutId { get; set; }
    // The setters share equal parts with other rollouts (SharedParts): set from a message or read from a store,
    // each rollout used to keep its own copy of the same plan and texts.
    public RolloutTarget Target { get; set => field = SharedParts.Target(value); } = new("", "");
    public string Revision { get; set => field = SharedParts.Text(value); } = "";
    public string? Image { get; set; }
    public string? StableRevision { get; set => field = SharedParts.OptionalText(value); }
    public RolloutPlan Plan { get; set => field = SharedParts.Plan(value); } = null!;
    public string RequestedBy { get; set => field = SharedParts.Text(value); } = "";

    /// <summary>Index into <see cref="RolloutPlan.Steps"/>; -1 before the first step.</summary>
    public int StepIndex { get; set; } = -1;
    public int DesiredWeight { get; set; }
    public int AppliedWeight { get; set; }

    public int FailedChecks { get; set; }
    public int ConsecutiveNoData { get; set; }
    public int ConsecutiveErrors { get; set; }
    public int PassedChecks { get; set; }

    /// <summary>Incremented for every command sent to a worker; a reply with another number is stale.</summary>
    public long Sequence { get; set; }
    /// <summary>The command awaiting its reply (a <see cref="PendingWork"/> name), or null.</summary>
    public string? Pending { get; set; }
    public DateTimeOffset? PendingSince { get => UtcTicks.From(_pendingSince); set => _pendingSince = UtcTicks.Of(value); }
    /// <summary>When a worker first applied the pending preparation or promotion, whose Deployment was not available yet
    /// (null until then): the command is asked again from then on, and its deadline counts from this instant.</summary>
    public DateTimeOffset? PendingAppliedAt { get => UtcTicks.From(_pendingAppliedAt); set => _pendingAppliedAt = UtcTicks.Of(value); }

    /// <summary>Number of the analysis window now scheduled; a verdict for another number is stale.</summary>
    public long AnalysisSequence { get; set; }
    public DateTimeOffset? NextAnalysisAt { get => UtcTicks.From(_nextAnalysisAt); set => _nextAnalysisAt = UtcTicks.Of(value); }
    public DateTimeOffset? LastAnalysisAt { get => UtcTicks.From(_lastAnalysisAt); set => _lastAnalysisAt = UtcTicks.Of(value); }
    public AnalysisEvidence? LastEvidence { get; set => field = value is null ? null : SharedParts.Evidence(value); }

    /// <summary>Sequential mode: the running evidence (opaque text, see Analysis.Sequential.SequentialState), so a restart resumes the test.</summary>
    public string? SequentialEvidence { get; set; }
    /// <summary>Sequential mode: when the current weight was applied; a step passes an interval after.</summary>
    public DateTimeOffset? StepStartedAt { get => UtcTicks.From(_stepStartedAt); set => _stepStartedAt = UtcTicks.Of(value); }
    /// <summary>Sequential mode: since when Prometheus has not answered (the rollout holds); null while it answers.</summary>
    public DateTimeOffset? MetricsDownSince { get => UtcTicks.From(_metricsDownSince); set => _metricsDownSince = UtcTicks.Of(value); }
    /// <summary>The last failed check was a sequential test's rejection: roll back now.</summary>
    public bool DecisiveFailure { get; set; }

    public DateTimeOffset StartedAt { get => UtcTicks.At(_startedAt); set => _startedAt = value.UtcTicks; }
    public DateTimeOffset LastProgressAt { get => UtcTicks.At(_lastProgressAt); set => _lastProgressAt = value.UtcTicks; }
    public DateTimeOffset LastTransitionAt { get => UtcTicks.At(_lastTransitionAt); set => _lastTransitionAt = value.UtcTicks; }
    public string LastReason { get; set; } = "";

    /// <summary>The confirm-* hook type the rollout waits on in WaitingApproval (asked every interval by the ticker);
    /// null at a person's approval gate or anywhere else.</summary>
    public string? Gate { get; set; }

    /// <summary>Where <see cref="RolloutPhases.Paused"/> returns on resume.</summary>
    public string? ResumeTo { get; set; }

    /// <summary>Counts published transitions; with RolloutId it identifies one transition (for exactly-once notifications).</summary>
    public long TransitionCount { get; set; }

    /// <summary>A newer revision that superseded this rollout; it starts once the rollback is done.</summary>
    public RolloutRequested? Queued { get; set; }

    // The times are kept as UTC ticks, 8 bytes each where a DateTimeOffset? takes 24 (issue 15: this object is kept twice per
    // rollout, by the saga and by the store's snapshot). The instant is exact; the offset reads back as UTC, which is
    // what the engine's clock gives (TimeProvider.GetUtcNow) and what equality compares.
    private long _pendingSince = UtcTicks.None, _pendingAppliedAt = UtcTicks.None, _nextAnalysisAt = UtcTicks.None, _lastAnalysisAt = UtcTicks.None,
        _stepStartedAt = UtcTicks.None, _metricsDownSince = UtcTicks.None;
    private long _startedAt, _lastProgressAt, _lastTransitionAt;

    /// <summary>
    /// A copy that shares the records it refers to (plan, target, evidence, queued request). Safe because those
    /// are immutable contract records: the state machine replaces them, never changes them in place. Cheap (no
    /// JSON), so it serves both as the "before" of every saga message and as a store's read-only snapshot.
    /// </summary>
    public RolloutState Clone() => (RolloutState)MemberwiseClone();

    /// <summary>Every stored field equal to <paramref name="other"/>'s (records by value, so an unchanged
    /// reference is equal): the saga message changed nothing and there is nothing to save.</summary>
    public bool SameAs(RolloutState other) => StateFields.Same(this, other);

    /// <summary>Overwrite every field with another's (undo an in-memory change that could not be saved).</summary>
    public void CopyFrom(RolloutState other)
    {
        foreach (var p in StateFields.All)
            p.SetValue(this, p.GetValue(other));
    }
}

/// <summary>Names of the commands a rollout can be waiting on.</summary>
public static class PendingWork
{
    public const string Prepare = "prepare";
    public const string Weight = "weight";
    public const string Promote = "promote";
    public const string Rollback = "rollback";
}

/// <summary>An instant as UTC ticks, with a value for none (see the fields of <see cref="RolloutState"/>).</summary>
internal static class UtcTicks
{
    public const long None = long.MinValue;
    public static long Of(DateTimeOffset? at) => at is { } t ? t.UtcTicks : None;
    public static DateTimeOffset? From(long ticks) => ticks == None ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
    public static DateTimeOffset At(long ticks) => new(ticks, TimeSpan.Zero);
}
