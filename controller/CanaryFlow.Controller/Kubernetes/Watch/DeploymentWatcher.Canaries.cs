using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Model;
using k8s;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>The Canary watch's handlers: its lists and events, kept in the namespace's caches, and deletions.</summary>
public sealed partial class DeploymentWatcher
{
    private sealed partial class NamespaceWatch
    {
        /// <param name="onlyNew">The list follows a change of the partitions held: a Canary cached at the version listed
        /// was looked at already, and only the others (the gained partitions') are.</param>
        private async Task OnCanaryListAsync(IReadOnlyList<Sighting> items, bool onlyNew = false)
        {
            // Owned Canaries that went while the watch was away (no Deleted event will tell).
            var listed = items.Select(c => c.Name).ToHashSet();
            foreach (var gone in _canaries.Values.Where(c => !listed.Contains(c.Name)).ToList())
            {
                using var scope = ActFor(gone.TargetName, out var owned);
                if (owned) await DeletedAsync(gone.TargetName);
            }
            var seen = onlyNew ? _canaries.Values.Select(c => (c.Name, c.Metadata.ResourceVersion)).ToHashSet() : [];
            _canaries.Clear();
            _canaryOf.Clear();
            if (!Sharded) owner.index.Replace(ns, items.Select(c => (c.Name, c.TargetName, c.Status)));
            foreach (var c in items)
                if (seen.Contains((c.Name, c.ResourceVersion))) Keep(c.ToCanary());
                else await OnCanaryAsync(WatchEventType.Added, c, fromList: true);
        }

        private void Keep(CanaryResource canary)
        {
            _canaries[canary.Name] = canary;
            _canaryOf[canary.TargetName] = canary.Name;
        }

        /// <summary>Every replica's observers forget the target (its metrics series above all): the Canary is gone.</summary>
        private async Task DeletedAsync(string targetName)
        {
            if (targetName.Length == 0) return;
            var target = new RolloutTarget(ns, targetName);
            await owner.bus.PublishWithin(new CanaryDeleted(RolloutIds.ForTarget(target), target, owner.time.GetUtcNow()), owner.time, _ct);
        }

        private async Task OnCanaryAsync(WatchEventType type, Sighting seen, bool fromList = false)
        {
            if (!Sharded) // sharded, the cluster-wide view lists the Canaries when it is asked for (ClusterCanaryStatuses)
            {
                if (type == WatchEventType.Deleted) owner.index.Remove(ns, seen.Name);
                else if (!fromList) owner.index.Observe(ns, seen.Name, seen.TargetName, seen.Status);
            }
            using var scope = ActFor(seen.TargetName, out var owned, out var kept);
            if (!fromList) owner.Tally.Canary(kept);
            // Another replica's: nothing kept (a Canary that moved to another target leaves its old entry too), nothing parsed.
            if (!kept)
            {
                if (_canaries.TryGetValue(seen.Name, out var was)) Forget(was);
                if (type != WatchEventType.Deleted) await UnlabelIfMisplacedAsync(seen);
                return;
            }
            if (type == WatchEventType.Deleted)
            {
                // Sharded, a Canary whose partition label was changed to another replica's leaves the watch as if deleted.
                if (owned && Sharded && await StillThereAsync(seen.Name) is { IsDeleting: false } still)
                {
                    await LabelIfStaleAsync(still); // it comes back (ADDED) with its own partition's label
                    return;
                }
                Forget(seen.Name, seen.TargetName);
                _revisions.Remove(seen.TargetName);
                if (owned) await DeletedAsync(seen.TargetName);
                return;
            }
            if (_canaries.TryGetValue(seen.Name, out var cached) && Older(seen.ResourceVersion, cached.Metadata.ResourceVersion)) return;
            var canary = seen.ToCanary(); // without the saga's state: the store's business, and the bulk of a Canary
            if (_canaries.TryGetValue(canary.Name, out var previous) && previous.TargetName != canary.TargetName) Forget(previous);
            _canaries[canary.Name] = canary;
            _canaryOf[canary.TargetName] = canary.Name;
            if (!owned) return; // kept for when the partition is held again (a late renewal)
            if (canary.IsDeleting) { StartDeletion(canary.Name); return; }
            if (await LabelIfStaleAsync(canary)) return; // its event brings it back here, labelled
            LabelTargetIfUnseen(canary);
            if (!await CheckSpecAsync(canary)) return;
            // Added before anything is created, so that a deletion from now on gives the service back. A 409 means a
            // newer version of the Canary is on its way through the watch: that event tries again.
            if (!CanaryFinalizer.Has(canary) && !await owner.deletion.Finalizer.AddAsync(canary, _ct)) return;
            if (canary.StatusString(TrackedRevisionField) is null) { StartInitialization(canary); return; }
            // autoscalerRef removed or renamed: the primary's HPA copy follows now (a relist misses it: the next rollout's
            // reconcile brings it in step then).
            if (previous is not null && previous.Spec?.AutoscalerRef?.Name != canary.Spec?.AutoscalerRef?.Name)
                await owner.initializer.FollowAutoscalerAsync(CanaryContext.From(canary, owner.options.Value.TrackLabel), _ct);
            if (_deployments.TryGetValue(canary.TargetName, out var d)) await EvaluateAsync(d);
        }
    }
}
