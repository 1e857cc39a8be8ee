using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>A Canary seen for the first time: its spec checked (an invalid one is reported, never a crash), then its
/// stable copy and routing made beside the watch, retried with a back-off; and its deletion started.</summary>
public sealed partial class DeploymentWatcher
{
    private sealed partial class NamespaceWatch
    {
        private async Task<bool> CheckSpecAsync(CanaryResource canary)
        {
            var result = await owner.plans.MapAsync(canary, _ct);
            if (result.IsValid) { _reportedInvalid.Remove(canary.Name); return true; }
            await ReportInvalidAsync(canary, result.Errors);
            return false;
        }

        /// <summary>A condition and a Warning Event, once per generation of the spec.</summary>
        private async Task ReportInvalidAsync(CanaryResource canary, IReadOnlyList<string> errors)
        {
            var generation = canary.Metadata.Generation ?? 0;
            if (_reportedInvalid.TryGetValue(canary.Name, out var reported) && reported == generation) return;
            _reportedInvalid[canary.Name] = generation;
            var message = string.Join("; ", errors);
            owner._logger.LogWarning("Canary {Namespace}/{Name} is invalid: {Errors}", ns, canary.Name, message);
            var now = owner.time.GetUtcNow();
            await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
                CanaryStatusView.SetCondition(status, "Ready", "False", "InvalidSpec", message, CanaryStatusView.Timestamp(now)), _ct);
            await owner.api.RecordEventAsync(canary, "Warning", "InvalidSpec", message, now.UtcDateTime, _ct);
        }

        private void StartInitialization(CanaryResource canary) =>
            StartBeside(_initializing, canary.Name, "initialisation", () => InitializeAsync(canary), then: () => StartDeletion(canary.Name));

        /// <summary>Gives the service back, but not while an initialisation is still creating objects (it would create
        /// them after the deletion had looked): that one finishes first, then starts the deletion.</summary>
        private void StartDeletion(string name)
        {
            if (_canaries.TryGetValue(name, out var canary) && canary.IsDeleting && CanaryFinalizer.Has(canary) && !_initializing.Contains(name))
                StartBeside(_finalizing, name, "deletion", () => owner.deletion.RunAsync(ns, name, _ct));
        }

        /// <summary>Runs work beside the watch (it waits for Deployments to become available), once at a time per Canary.</summary>
        /// <param name="then">Run (under the watch's lock) once the work is over.</param>
        private void StartBeside(HashSet<string> running, string name, string what, Func<Task> work, Action? then = null)
        {
            if (!running.Add(name)) return;
            var task = Task.Run(async () =>
            {
                try { await work(); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    owner._logger.LogWarning(e, "Canary {Namespace}/{Name}: {What} failed", ns, name, what);
                }
                finally { await Serial(() => { running.Remove(name); then?.Invoke(); return Task.CompletedTask; }); }
            });
            Track(task);
        }

        /// <summary>Starts the initialisation of a Canary that is still not initialised again after a pause (the watch's
        /// own events may never come: see the caller). One retry pending per Canary, its pause doubling from 5 s up to
        /// 5 min while it keeps failing, so failing Canaries never make a retry storm. Only the partition's holder
        /// starts it; a deleted or initialised Canary is left alone. Called under the watch's lock.</summary>
        /// <param name="soon">A step of work under way (a primary's migration), no failure: again at the poll interval.</param>
        private void RetryInitializationLater(string name, bool soon = false)
        {
            if (!_initRetryPending.Add(name)) return;
            var failures = soon ? 0 : (_initFailures[name] = _initFailures.GetValueOrDefault(name) + 1);
            var pause = soon ? owner.options.Value.PollInterval : TimeSpan.FromSeconds(Math.Min(300, 5 * Math.Pow(2, Math.Min(failures - 1, 6))));
            _ = Task.Run(async () =>
            {
                try
                {
                    await Task.Delay(pause, owner.time, _ct);
                    await Serial(() =>
                    {
                        _initRetryPending.Remove(name);
                        if (!_canaries.TryGetValue(name, out var canary) || canary.IsDeleting || canary.StatusString(TrackedRevisionField) is not null)
                            _initFailures.Remove(name);
                        // The initialisation that asked for this retry is still writing its status (a short pause ends
                        // before it does): starting now would be refused and the retry lost, so look again after a pause.
                        else if (_initializing.Contains(name)) RetryInitializationLater(name, soon: true);
                        else
                        {
                            using var scope = ActFor(canary.TargetName, out var owned, out _);
                            if (owned) StartInitialization(canary);
                        }
                        return Task.CompletedTask;
                    });
                }
                catch (OperationCanceledException) { } // the watch stopped
            });
        }

        private static JsonObject? ReadyCondition(CanaryResource canary) =>
            (canary.Status?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == "Ready");

        /// <summary>The revision the stable copy runs: the one it was made from (its annotation), not the target's template now.
        /// A release made while the stable copy was waited for is already in the target's template; taken as stable, it
        /// would never be rolled out. A stable copy made by an earlier version, without the annotation, had the target's
        /// template when this ran before: the target's revision stands in for it.</summary>
        private async Task<string> StableRevisionAsync(CanaryContext ctx)
        {
            if ((await ReadDeploymentAsync(ctx.PrimaryName)).Annotation(Deployments.RevisionAnnotation) is { Length: > 0 } made) return made;
            return WatchedDeployment.From(await ReadDeploymentAsync(ctx.Target.Name), ctx.TrackLabel).Revision;
        }

        /// <summary>A Deployment as the server has it now, read as the watch reads its events (raw, parsed no further
        /// than needed).</summary>
        /// <exception cref="HttpOperationException">404 when it is gone.</exception>
        private async Task<Sighting> ReadDeploymentAsync(string name) =>
            Sighting.Of(await owner.client.CustomObjects.GetNamespacedCustomObjectAsync(Apps, AppsVersion, ns, DeploymentsPlural, name, cancellationToken: _ct));

        private async Task InitializeAsync(CanaryResource canary)
        {
            // The cached copy can be older than the server's: under load the Canary stream lags the Deployment stream, and a
            // release (or the periodic look) then finds a copy without the tracked revision of an initialisation that is
            // done. Initialising again would read the target's template as it is now, a release not rolled out, and record
            // it as the stable revision: the release would never be rolled out (issue 15: thousands of Canaries stayed
            // Initialized, re-initialised every 10 s). The server's copy decides; the cache takes it.
            if (await owner.api.GetCanaryAsync(ns, canary.Name, _ct) is not { } current || current.IsDeleting) return;
            if (current.StatusString(TrackedRevisionField) is not null)
            {
                await Serial(async () =>
                {
                    if (_canaries.TryGetValue(current.Name, out var cached) && Older(current.Metadata.ResourceVersion, cached.Metadata.ResourceVersion)) return;
                    _canaries[current.Name] = current;
                    _canaryOf[current.TargetName] = current.Name;
                    using var scope = ActFor(current.TargetName, out var owned);
                    if (owned && _deployments.TryGetValue(current.TargetName, out var d)) await EvaluateAsync(d);
                });
                return;
            }
            var ctx = CanaryContext.From(canary, owner.options.Value.TrackLabel);
            // The adopted VirtualService's routes before CanaryFlow writes to them (first sight sets them to 100/0),
            // to give them back on deletion.
            var adopted = ctx.AdoptsVirtualService && canary.Status?[CanaryDeletion.AdoptedRoutesField] is null
                && await owner.api.GetCustomAsync(Routing.Istio.Group, Routing.Istio.Version, ns, Routing.Istio.VirtualServices, ctx.VirtualServiceName, _ct) is { } vs
                ? AdoptedRoutes.Snapshot(vs, ctx.ServiceName, ns, ctx.Subsets) : null;
            var failure = await owner.initializer.EnsureAsync(ctx, firstSight: true, _ct);
            var now = owner.time.GetUtcNow();
            var stamp = CanaryStatusView.Timestamp(now);
            if (failure is not null)
            {
                // Tried again later whatever happens meanwhile: the primary becoming available is no event of the
                // Canary or its target, and the same failure twice writes nothing that would bring us back here.
                await Serial(() => { RetryInitializationLater(canary.Name, soon: failure.Requeue); return Task.CompletedTask; });
                // Reported once: the status write below is itself a Canary event that brings us back here.
                if (ReadyCondition(canary) is { } ready && (string?)ready["reason"] == failure.Reason && (string?)ready["message"] == failure.Message) return;
                owner._logger.Log(failure.Requeue ? LogLevel.Information : LogLevel.Warning, "Canary {Namespace}/{Name}: {Reason}: {Message}",
                    ns, canary.Name, failure.Reason, failure.Message);
                await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
                    CanaryStatusView.SetCondition(status, "Ready", "False", failure.Reason, failure.Message, stamp), _ct);
                await owner.api.RecordEventAsync(canary, failure.Requeue ? "Normal" : "Warning", failure.Reason, failure.Message, now.UtcDateTime, _ct);
                return;
            }
            var revision = await StableRevisionAsync(ctx);
            await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
            {
                if (adopted is not null) status[CanaryDeletion.AdoptedRoutesField] ??= adopted;
                // Initialised meanwhile (another replica before a partition moved): its revisions stand.
                status[TrackedRevisionField] ??= revision;
                status["stableRevision"] ??= revision;
                status["phase"] ??= CanaryStatusView.Initialized; // nothing has rolled out yet: not Succeeded
                status["canaryWeight"] ??= 0;
                status["lastTransitionTime"] = stamp;
                CanaryStatusView.SetCondition(status, "Ready", "True", "Initialized", $"stable {ctx.PrimaryName} serves revision {revision}", stamp);
            }, _ct);
            // The cache's copy learns the revision now, not when the Canary stream brings the write (it may lag by minutes),
            // and the target is looked at against it at once: a release made while the stable copy was being made up is
            // requested now (its Deployment event came while the Canary was not initialised, and asked for nothing).
            await Serial(async () =>
            {
                if (_canaries.TryGetValue(canary.Name, out var cached) && cached.StatusString(TrackedRevisionField) is null)
                {
                    var status = cached.Status?.DeepClone() as JsonObject ?? [];
                    status[TrackedRevisionField] = revision;
                    _canaries[canary.Name] = cached with { Status = status };
                }
                using var scope = ActFor(canary.TargetName, out var owned);
                if (owned && _deployments.TryGetValue(canary.TargetName, out var d)) await EvaluateAsync(d);
            });
            await owner.api.RecordEventAsync(canary, "Normal", "Initialized",
                $"created {ctx.PrimaryName} and routing; all traffic on stable revision {revision}", now.UtcDateTime, _ct);
            owner._logger.LogInformation("Canary {Namespace}/{Name} initialised at revision {Revision}", ns, canary.Name, revision);
        }
    }
}
