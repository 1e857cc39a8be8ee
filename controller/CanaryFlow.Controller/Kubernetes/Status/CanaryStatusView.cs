using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>The user-visible Canary status (what <c>kubectl get/describe canary</c> shows) derived from the saga state.</summary>
public static class CanaryStatusView
{
    /// <summary>
    /// The phase of an adopted Canary whose first rollout has not ended (Flagger's name): its stable copy and
    /// routing exist, all traffic on stable. Not a saga state; the first rollout's phases replace it.
    /// </summary>
    public const string Initialized = nameof(Initialized);

    private static readonly HashSet<string> Phases =
    [
        RolloutPhases.Queued, RolloutPhases.Initializing, RolloutPhases.Progressing, RolloutPhases.Paused, RolloutPhases.WaitingApproval,
        RolloutPhases.Promoting, RolloutPhases.Succeeded, RolloutPhases.RollingBack, RolloutPhases.Failed,
    ];

    private static readonly HashSet<string> Active =
    [
        RolloutPhases.Queued, RolloutPhases.Initializing, RolloutPhases.Progressing, RolloutPhases.Paused, RolloutPhases.WaitingApproval,
        RolloutPhases.Promoting, RolloutPhases.RollingBack, RolloutPhases.Holding,
    ];

    public static void Apply(JsonObject status, RolloutState state, long? generation)
    {
        var phase = Phase(state, (string?)status["phase"]);
        var at = state.LastTransitionAt == default ? DateTimeOffset.UtcNow : state.LastTransitionAt;
        var time = Timestamp(at);
        status["phase"] = phase;
        status["canaryWeight"] = state.AppliedWeight;
        status["currentStep"] = state.StepIndex + 1;
        status["failedChecks"] = state.FailedChecks;
        status["inconclusiveChecks"] = state.ConsecutiveNoData + state.ConsecutiveErrors; // no data and query errors alike
        status["canaryRevision"] = state.Revision;
        status["stableRevision"] = state.StableRevision;
        status["message"] = state.LastReason;
        status["lastTransitionTime"] = time;
        if (generation is { } g) status["observedGeneration"] = g;

        var failed = phase == RolloutPhases.Failed;
        SetCondition(status, "Ready", failed ? "False" : "True", phase, state.LastReason, time);
        SetCondition(status, "Progressing", Active.Contains(phase) ? "True" : "False", phase, state.LastReason, time);
        SetCondition(status, "Promoted", phase == RolloutPhases.Succeeded ? "True" : failed ? "False" : "Unknown", phase, state.LastReason, time);
        // A rollout that holds because Prometheus does not answer says so (weights frozen).
        if (state.Plan?.Analysis.Sequential != null)
            SetCondition(status, RolloutPhases.Holding, state.MetricsDownSince is null ? "False" : "True",
                state.MetricsDownSince is null ? "MetricsAnswering" : "MetricsSourceDown",
                state.MetricsDownSince is { } down ? $"holding since {Timestamp(down)}: {state.LastReason}" : "the metrics source answers",
                state.MetricsDownSince is { } since ? Timestamp(since) : time);
    }

    /// <summary>
    /// The phase shown: the saga's state, except that a progressing rollout whose metrics source does not answer shows
    /// <see cref="RolloutPhases.Holding"/> (weights frozen; the "the phase says why"). Only the view: the stored
    /// state stays Progressing, so a restart resumes the same hold. A paused or promoting rollout keeps its own phase.
    /// </summary>
    public static string Phase(RolloutState state, string? shown)
    {
        if (state.CurrentState == RolloutPhases.Progressing && state.MetricsDownSince is not null) return RolloutPhases.Holding;
        return Phases.Contains(state.CurrentState) ? state.CurrentState
            : shown is not null && shown != RolloutPhases.Holding ? shown : RolloutPhases.Initializing;
    }

    /// <summary>Sets one condition, keeping its lastTransitionTime when its status did not change (the Kubernetes convention).</summary>
    public static void SetCondition(JsonObject status, string type, string value, string reason, string message, string time)
    {
        var conditions = status["conditions"] as JsonArray ?? [];
        status["conditions"] = conditions;
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == type);
        var since = existing is not null && (string?)existing["status"] == value ? (string?)existing["lastTransitionTime"] ?? time : time;
        var condition = new JsonObject
        {
            ["type"] = type, ["status"] = value, ["reason"] = reason, ["message"] = message, ["lastTransitionTime"] = since,
        };
        if (existing is null) conditions.Add(condition);
        else conditions[conditions.IndexOf(existing)] = condition;
    }

    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ");
}
