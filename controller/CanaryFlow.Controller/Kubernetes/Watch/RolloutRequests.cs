using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Kubernetes.Status;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// Sends the watch's <see cref="RolloutRequested"/> and records the requested revision on the Canary, beside the watch
/// rather than under its lock. Under the lock, each release cost a publish and a status read-and-write in turn, and a
/// replica that owns thousands of targets released at once worked through them one by one while both watch streams
/// waited (issue 15). A target's requests still go out in the order they were made (a newer revision supersedes the
/// running one in the saga, so an older one must never arrive after it), and at most <see cref="AtOnce"/> are under way.
/// The caller has already taken the revision as requested; a request that fails is handed back to it.
/// <para>Each request is made only if the target's template on the server still has its revision (<paramref name="stillCurrent"/>,
/// one read): a cached copy that is older than one already requested (a watch stream that lags, an old event taken after a
/// newer one) must never ask for the previous revision again, which would supersede the release under way with the stable
/// one (issue 15: 2 of 1,000 in a kill run ended Failed with "canary runs revision X, not Y").</para>
/// </summary>
internal sealed class RolloutRequests(string ns, IBus bus, TimeProvider time, CanaryStatusWriter statusWriter, Func<RolloutRequested, Task<bool>> stillCurrent,
    Func<RolloutRequested, Task> failed, ILogger logger, CancellationToken ct)
{
    public const int AtOnce = 16;
    private readonly SemaphoreSlim _slots = new(AtOnce, AtOnce);
    private readonly Dictionary<string, Task> _latest = []; // target -> its last request; touched under the watch's lock only

    /// <summary>Starts the request after the target's previous one. Call under the watch's lock, inside the partition's
    /// scope: the task carries the scope, so its writes pass the fence only while the partition is held.</summary>
    public void Request(string canaryName, RolloutRequested request, Action<Task> track)
    {
        var previous = _latest.GetValueOrDefault(request.Target.Name) ?? Task.CompletedTask;
        var task = Task.Run(async () =>
        {
            await previous.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            try { await _slots.WaitAsync(ct); }
            catch (OperationCanceledException) { return; } // the watch stopped
            try
            {
                if (!await stillCurrent(request)) return;
                await bus.PublishWithin(request, time, ct);
                logger.LogInformation("{Target}: revision {Revision} requested ({Reason})", request.Target, request.Revision, request.Reason);
                await statusWriter.UpdateAsync(ns, canaryName, (_, status) => status[DeploymentWatcher.TrackedRevisionField] = request.Revision, ct);
            }
            catch (OperationCanceledException) { }
            catch (Exception e)
            {
                logger.LogWarning(e, "{Target}: requesting revision {Revision} failed; the next look asks again", request.Target, request.Revision);
                await failed(request);
            }
            finally { _slots.Release(); }
        });
        _latest[request.Target.Name] = task;
        track(task);
    }

    /// <summary>Drops what is kept of the targets <paramref name="which"/> picks (a lost partition's). Under the watch's lock.</summary>
    public void Forget(Func<string, bool> which)
    {
        foreach (var target in _latest.Keys.Where(which).ToList()) _latest.Remove(target);
    }
}
