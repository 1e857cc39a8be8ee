namespace CanaryFlow.Contracts;

/// <summary>Hook types, as Flagger users know them, and when each one runs.</summary>
public static class HookTypes
{
    /// <summary>Once before any traffic; a failure is a failed check.</summary>
    public const string PreRollout = "pre-rollout";
    /// <summary>With every analysis check; a failure is a failed check.</summary>
    public const string Rollout = "rollout";
    /// <summary>Gate before the first traffic: the rollout waits until every such hook says yes (2xx).</summary>
    public const string ConfirmRollout = "confirm-rollout";
    /// <summary>Gate before each step's weight increase.</summary>
    public const string ConfirmTrafficIncrease = "confirm-traffic-increase";
    /// <summary>Gate before promotion.</summary>
    public const string ConfirmPromotion = "confirm-promotion";
    /// <summary>After the rollout succeeded or failed; its outcome is recorded, it changes nothing.</summary>
    public const string PostRollout = "post-rollout";
    /// <summary>When a rollback starts.</summary>
    public const string Rollback = "rollback";
    /// <summary>On every transition, like a notification channel.</summary>
    public const string Event = "event";

    public static readonly IReadOnlyList<string> All =
        [PreRollout, Rollout, ConfirmRollout, ConfirmTrafficIncrease, ConfirmPromotion, PostRollout, Rollback, Event];

    public static bool IsGate(string type) => type is ConfirmRollout or ConfirmTrafficIncrease or ConfirmPromotion;
}

/// <summary>One hook of a Canary: an HTTP POST of a signed JSON body to <paramref name="Url"/>, or the built-in load
/// generator when <paramref name="Load"/> is set (then <paramref name="Url"/> is null).</summary>
/// <param name="Timeout">Per attempt.</param>
/// <param name="Metadata">Sent as is in the body (e.g. which test suite to run).</param>
public sealed record HookSpec(
    string Name,
    string Type,
    string? Url,
    TimeSpan Timeout,
    IReadOnlyDictionary<string, string>? Metadata = null,
    LoadSpec? Load = null);

/// <summary>The built-in load generator: GET <paramref name="Url"/> at <paramref name="RequestsPerSecond"/> for
/// <paramref name="Duration"/> from each call (a new call extends a running load; it never runs two at once).</summary>
public sealed record LoadSpec(string Url, int RequestsPerSecond, TimeSpan Duration);

/// <summary>
/// The ticker found hooks to ask: a rollout's pre-rollout hooks (<paramref name="Sequence"/> is the analysis
/// sequence; answered with AnalysisPassed/AnalysisFailed), or a confirm-* gate it waits at (<paramref name="Sequence"/>
/// is the saga's command sequence; a yes is answered with a <see cref="PromoteRollout"/> carrying it as GateSequence).
/// </summary>
public sealed record HooksDue(
    Guid CorrelationId,
    Guid RolloutId,
    RolloutTarget Target,
    string Revision,
    string Type,
    long Sequence,
    int CanaryWeight,
    IReadOnlyList<HookSpec> Hooks,
    DateTimeOffset DueAt);

/// <summary>One hook call's outcome, for the Canary status, the Events and the timeline.</summary>
/// <param name="Outcome">"ok" (2xx), "failed" (another answer) or "unreachable" (no answer, timeout, open circuit).</param>
public sealed record HookCompleted(
    Guid CorrelationId,
    Guid RolloutId,
    RolloutTarget Target,
    string Name,
    string Type,
    string Outcome,
    string Detail,
    DateTimeOffset At);

public static class HookOutcomes
{
    public const string Ok = "ok";
    public const string Failed = "failed";
    public const string Unreachable = "unreachable";
}
