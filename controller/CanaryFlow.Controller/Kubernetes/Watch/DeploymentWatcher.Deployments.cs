using System.Net;
using CanaryFlow.Contracts;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>The Deployment watch's handlers: a target's new pod-template revision becomes one rollout request.</summary>
public sealed partial class DeploymentWatcher
{
    private sealed partial class NamespaceWatch
    {
        private async Task OnDeploymentListAsync(IReadOnlyList<Sighting> items)
        {
            _deployments.Clear();
            foreach (var d in items) await OnDeploymentAsync(WatchEventType.Added, d, fromList: true);
        }

        private async Task OnDeploymentAsync(WatchEventType type, Sighting seen, bool fromList = false)
        {
            var name = seen.Name;
            using var scope = ActFor(name, out var owned, out var kept);
            // Of use: a target of a Canary this replica keeps (the stable copies and other Deployments never are).
            if (!fromList) owner.Tally.Deployment(kept: _canaryOf.ContainsKey(name));
            if (type == WatchEventType.Deleted) { _deployments.Remove(name); return; }
            if (!kept) { _deployments.Remove(name); return; } // another replica's target (or a stable copy): not kept, not parsed
            if (_deployments.TryGetValue(name, out var cached) && Older(seen.ResourceVersion, cached.ResourceVersion)) return;
            var deployment = WatchedDeployment.From(seen, owner.options.Value.TrackLabel);
            _deployments[name] = deployment;
            _labelledAt.Remove(name);
            if (owned) await EvaluateAsync(deployment);
        }

        /// <summary>Publishes a rollout when the target's pod template has a revision not seen before.</summary>
        private async Task EvaluateAsync(WatchedDeployment deployment)
        {
            if (!_canaryOf.TryGetValue(deployment.Name, out var canaryName) || !_canaries.TryGetValue(canaryName, out var canary)) return; // not governed
            if (canary.IsDeleting) return; // its deletion rewrites the target to give it back: that is no new revision
            if (canary.StatusString(TrackedRevisionField) is not { } tracked)
            {
                // Not initialised (yet, or it failed): a change of the target is a good moment to try again.
                if ((await owner.plans.MapAsync(canary, _ct)).IsValid) StartInitialization(canary);
                return;
            }
            var target = new RolloutTarget(ns, deployment.Name);
            var revision = deployment.Revision;
            var known = _revisions.GetValueOrDefault(target.Name) ?? tracked;
            if (revision == known) return;
            var plan = await owner.plans.MapAsync(canary, _ct); // templates read now: a rollout runs what they say at its start
            if (plan.Plan is null) { await ReportInvalidAsync(canary, plan.Errors); return; }

            var image = deployment.ImageOf(canary.Spec?.ImagePolicy?.Container);
            _revisions[target.Name] = revision;
            _requests.Request(canary.Name, new RolloutRequested(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, revision), target, revision,
                image, plan.Plan, "watch:deployment", $"pod template changed ({known} -> {revision})", owner.time.GetUtcNow()), Track);
        }

        /// <summary>Whether the target's template on the server still has the revision about to be requested. If not, the
        /// watch's copy was stale: the request is dropped, the server's copy taken into the cache (and evaluated: its revision
        /// is requested if it is new), and the dropped revision forgotten, so that the target is compared with its tracked
        /// revision again. A target that is gone has nothing to roll out.</summary>
        private async Task<bool> StillCurrentAsync(RolloutRequested request)
        {
            Sighting seen;
            try
            {
                seen = await ReadDeploymentAsync(request.Target.Name);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
            var onServer = WatchedDeployment.From(seen, owner.options.Value.TrackLabel).Revision;
            if (onServer == request.Revision) return true;
            owner._logger.LogInformation("{Target}: revision {Revision} not requested: the target's template on the server has revision {OnServer} " +
                "(the watch's copy was older)", request.Target, request.Revision, onServer);
            await Serial(async () =>
            {
                if (_revisions.GetValueOrDefault(request.Target.Name) == request.Revision) _revisions.Remove(request.Target.Name);
                await OnDeploymentAsync(WatchEventType.Modified, seen, fromList: true); // a read, not a watch event
            });
            return false;
        }

        /// <summary>A request that failed (published or not, its revision not recorded): forgotten, so the periodic look
        /// (<see cref="RelookAsync"/>) asks for it again.</summary>
        private Task ForgetRequestAsync(RolloutRequested failed) => Serial(() =>
        {
            if (_revisions.GetValueOrDefault(failed.Target.Name) == failed.Revision) _revisions.Remove(failed.Target.Name);
            return Task.CompletedTask;
        });
    }
}
