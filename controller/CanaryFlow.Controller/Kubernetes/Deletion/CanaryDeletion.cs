using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Workloads;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Deletion;

/// <summary>
/// Finishes the deletion of a Canary that carries <see cref="CanaryFinalizer.Name"/>. First any rollout stops: the
/// saga is sent <see cref="AbortRollout"/> and its phase (in the Canary's status) is awaited at rest, so it writes no
/// more weights. Then, unless <c>spec.revertOnDeletion</c> is false, the service is given back: the target runs the
/// primary's template at its size and must become available; only then does traffic move to it and
/// <c>&lt;name&gt;-primary</c> go. A target that does not become available keeps the finalizer and the traffic on
/// the primary, is reported in an Event and tried again with back-off. Last, the finalizer is removed.
/// </summary>
public sealed class CanaryDeletion(CanaryApi api, CanaryFinalizer finalizer, CanaryReverter reverter, DeploymentWaiter waiter, IBus bus,
    IOptions<KubernetesOptions> options, TimeProvider time, ILogger<CanaryDeletion> logger)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private static readonly HashSet<string> Running =
        [RolloutPhases.Queued, RolloutPhases.Initializing, RolloutPhases.Progressing, RolloutPhases.Holding, RolloutPhases.Paused, RolloutPhases.WaitingApproval, RolloutPhases.Promoting, RolloutPhases.RollingBack];

    // Events already recorded (per Canary uid), so that a step retried with back-off is reported once, not every time.
    private readonly ConcurrentDictionary<(string?, string, string), bool> _recorded = new();

    private sealed record Pending(string Reason, bool Failed);

    public CanaryFinalizer Finalizer => finalizer;

    /// <summary>Works on one deleted Canary until its finalizer is gone (or the Canary is), re-reading it before each
    /// attempt; ends early only when <paramref name="ct"/> does (leadership lost: the next leader carries on).</summary>
    public async Task RunAsync(string ns, string name, CancellationToken ct)
    {
        var failures = 0;
        while (true)
        {
            Pending? pending;
            try
            {
                var raw = await api.GetCanaryRawAsync(ns, name, ct);
                var canary = raw is null ? null : CanaryResource.FromObject(raw);
                if (canary is not { IsDeleting: true } || !CanaryFinalizer.Has(canary)) return;
                pending = await StepAsync(canary, ct);
                if (pending is null) { Forget(canary.Metadata.Uid); return; }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Canary {Namespace}/{Name}: deletion step failed; will retry", ns, name);
                pending = new Pending(e.Message, Failed: true);
            }
            failures = pending.Failed ? failures + 1 : 0;
            var poll = options.Value.PollInterval;
            var delay = failures == 0 ? poll : TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, poll.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 16))));
            await Task.Delay(delay, time, ct);
        }
    }

    /// <returns>Null when the finalizer is removed; otherwise what is awaited.</returns>
    private async Task<Pending?> StepAsync(CanaryResource canary, CancellationToken ct)
    {
        var phase = canary.StatusString("phase");
        if (phase is not null && Running.Contains(phase) && canary.TargetName.Length > 0)
        {
            var target = new RolloutTarget(canary.Namespace, canary.TargetName);
            // Promoting and RollingBack end by themselves (the saga ignores an abort there); the others stop now.
            await bus.PublishWithin(new AbortRollout(RolloutIds.ForTarget(target), target, "canaryflow", "the Canary is being deleted"), time, ct);
            await RecordAsync(canary, "Normal", "Deleting", $"the Canary is being deleted: stopping the rollout in phase {phase} first", ct);
            return new Pending($"waiting for the rollout ({phase}) to stop", Failed: false);
        }

        if (canary.TargetName.Length > 0) await reverter.UnlabelTargetAsync(new RolloutTarget(canary.Namespace, canary.TargetName), ct);
        if (canary.Spec?.RevertOnDeletion == false || canary.TargetName.Length == 0)
        {
            await RecordAsync(canary, "Normal", "Deleted", "revertOnDeletion is false: the primary Deployment and the routing objects are kept", ct);
            return await finalizer.RemoveAsync(canary, ct) ? null : new Pending("the Canary changed; retrying", Failed: false);
        }

        var ctx = CanaryContext.From(canary, options.Value.TrackLabel);
        if (await reverter.RestoreTargetAsync(ctx, ct) is { } restored) await RecordAsync(canary, "Normal", "RevertingTarget", restored, ct);
        if (await waiter.WaitAvailableAsync(ctx.Target.Namespace, ctx.Target.Name, ctx.ProgressDeadline, ct) is { } notAvailable)
        {
            // Never send users to a broken set: traffic stays on the primary, and so does the finalizer.
            await RecordAsync(canary, "Warning", "RevertFailed", $"{ctx.Target.Name} did not become available; traffic stays on {ctx.PrimaryName}: {notAvailable}", ct);
            return new Pending(notAvailable, Failed: true);
        }
        if (await reverter.RestoreRoutingAsync(ctx, canary.StatusString(AdoptedRoutesField), ct) is { } routed)
            await RecordAsync(canary, "Normal", "TrafficReverted", $"all traffic to {ctx.Target.Name}: {routed}", ct);
        if (await reverter.DeleteCopiesAsync(ctx, ct) is { } deleted) await RecordAsync(canary, "Normal", "PrimaryDeleted", deleted, ct);
        await RecordAsync(canary, "Normal", "Reverted", $"{ctx.Target.Name} serves all traffic as before CanaryFlow; removing the finalizer", ct);
        return await finalizer.RemoveAsync(canary, ct) ? null : new Pending("the Canary changed; retrying", Failed: false);
    }

    /// <summary>Status field with the adopted VirtualService's routes as first seen (see <see cref="AdoptedRoutes"/>).</summary>
    public const string AdoptedRoutesField = "adoptedRoutes";

    private void Forget(string? uid)
    {
        foreach (var key in _recorded.Keys.Where(k => k.Item1 == uid)) _recorded.TryRemove(key, out _);
    }

    private async Task RecordAsync(CanaryResource canary, string type, string reason, string message, CancellationToken ct)
    {
        if (!_recorded.TryAdd((canary.Metadata.Uid, reason, message), true)) return;
        logger.LogInformation("Canary {Namespace}/{Name}: {Reason}: {Message}", canary.Namespace, canary.Name, reason, message);
        await api.RecordEventAsync(canary, type, reason, message, time.GetUtcNow().UtcDateTime, ct);
    }
}
