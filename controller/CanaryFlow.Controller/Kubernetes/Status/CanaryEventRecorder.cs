using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>Writes a Kubernetes Event on the Canary for every rollout transition, for <c>kubectl describe canary</c>.</summary>
public sealed class CanaryEventRecorder(CanaryApi api, TimeProvider time, ILogger<CanaryEventRecorder> logger) : IConsumer<RolloutTransitioned>
{
    public async Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        var t = context.Message;
        CanaryFlow.Controller.Kubernetes.Model.CanaryResource canary;
        try { canary = await api.FindForTargetAsync(t.Target, context.CancellationToken); }
        catch (CanaryNotFoundException e)
        {
            logger.LogDebug("{Message}: no Event recorded", e.Message); // rollouts started outside Kubernetes (CLI, embedded)
            return;
        }
        await api.RecordEventAsync(canary, Type(t), Reason(t), Describe(t), time.GetUtcNow().UtcDateTime, context.CancellationToken);
    }

    public static string Type(RolloutTransitioned t) =>
        t.Phase is RolloutPhases.RollingBack or RolloutPhases.Failed || t.HoldingSince != null ? "Warning" : "Normal";

    /// <summary>The Event's reason: the phase, or Holding while the metrics source does not answer.</summary>
    public static string Reason(RolloutTransitioned t) => t.HoldingSince != null && t.Phase == t.FromPhase ? RolloutPhases.Holding : t.Phase;

    public static string Describe(RolloutTransitioned t)
    {
        var what = t.FromPhase == t.Phase
            ? $"weight {t.CanaryWeight}% (step {t.StepIndex + 1}/{t.StepCount})"
            : $"{t.FromPhase} -> {t.Phase}, weight {t.CanaryWeight}% (step {t.StepIndex + 1}/{t.StepCount})";
        var checks = t.FailedChecks > 0 ? $", {t.FailedChecks} failed checks" : "";
        return $"{what}, revision {t.Revision}{checks}: {t.Reason}";
    }
}
