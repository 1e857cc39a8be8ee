using System.Net;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Kubernetes.Model;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>The partition labels a sharded owner keeps on its Canaries and their targets (issue 15): written when missing
/// or stale, taken off a Canary that carries another partition's, written back on one changed by hand.</summary>
public sealed partial class DeploymentWatcher
{
    private sealed partial class NamespaceWatch
    {
        /// <summary>The held partitions' targets, listed: the cache takes them, and every owned Canary whose target is not
        /// among them gets its target labelled (a target not labelled yet, or labelled for another partition count).</summary>
        /// <param name="changed">The list's partitions are no longer the ones held: the next watch lists again.</param>
        private async Task OnTargetListAsync(IReadOnlyList<Sighting> items, CancellationToken changed)
        {
            if (changed.IsCancellationRequested) return;
            await OnDeploymentListAsync(items);
            _targetsListed = true;
            LabelUnseenTargets();
        }

        /// <summary>Every owned Canary's target that the Deployment watch has not brought gets its label (see
        /// <see cref="LabelTargetIfUnseen"/>). Called under the watch's lock.</summary>
        private void LabelUnseenTargets()
        {
            foreach (var canary in _canaries.Values.Where(c => !_deployments.ContainsKey(c.TargetName) && !c.IsDeleting).ToList())
            {
                using var scope = ActFor(canary.TargetName, out var owned);
                if (owned) LabelTargetIfUnseen(canary);
            }
        }

        /// <summary>Sharded: an owned Canary whose target the Deployment watch has not brought gets the partition label on
        /// its target, which brings it (the watch sees it enter its selector). Written at most every
        /// <see cref="RelabelAfter"/> per target: a target that does not exist yet costs one request that often, from the
        /// periodic look, until it does. Called under the watch's lock, in the partition's scope.</summary>
        private void LabelTargetIfUnseen(CanaryResource canary)
        {
            var target = canary.TargetName;
            if (!Sharded || !_targetsListed || target.Length == 0 || _deployments.ContainsKey(target)) return;
            var now = owner.time.GetUtcNow();
            if (_labelledAt.TryGetValue(target, out var at) && now - at < RelabelAfter) return;
            _labelledAt[target] = now;
            var value = Hosting.Sharding.PartitionLabel.Value(PartitionOf(target), owner.ownership.Partitions);
            Track(Task.Run(async () =>
            {
                try
                {
                    await owner.deployments.SetPartitionLabelAsync(ns, target, value, _ct);
                    owner._logger.LogDebug("{Namespace}/{Target}: labelled for partition {Value}", ns, target, value);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { } // no target (yet): the Canary reports it
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    owner._logger.LogWarning("{Namespace}/{Target}: could not write its partition label ({Error}); trying again later", ns, target, e.Message);
                }
            }));
        }

        private static readonly TimeSpan RelabelAfter = TimeSpan.FromSeconds(30);

        /// <summary>A Canary that left the watch: still on the server (its label changed), or gone (null; also when the
        /// read fails, so that a deletion is never lost to an API error).</summary>
        private async Task<CanaryResource?> StillThereAsync(string name)
        {
            try { return await owner.api.GetCanaryAsync(ns, name, _ct); }
            catch (Exception e) when (e is not OperationCanceledException) { return null; }
        }

        /// <summary>Sharded: a Canary labelled with a partition this replica holds, but not its own (a label copied with a
        /// manifest from another Canary, or written by hand), would reach only this replica, which does not own it, and never
        /// its owner. Its label is taken off, in the named partition's scope, so that every replica sees it again and the
        /// owner labels it. Called under the watch's lock.</summary>
        private async Task UnlabelIfMisplacedAsync(Sighting seen)
        {
            if (!Sharded || seen.TargetName.Length == 0 || seen.Label(Hosting.Sharding.PartitionLabel.Key) is not { } label
                || Hosting.Sharding.PartitionLabel.Partition(label, owner.ownership.Partitions) is not { } named
                || named == PartitionOf(seen.TargetName) || !owner.ownership.Owns(named)) return;
            using var scope = PartitionScope.Enter(named);
            try
            {
                await owner.api.SetPartitionLabelAsync(ns, seen.Name, null, _ct);
                owner._logger.LogInformation("Canary {Namespace}/{Name}: its partition label {Label} names another partition; taken off for its owner", ns, seen.Name, label);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                owner._logger.LogWarning("Canary {Namespace}/{Name}: could not take off a partition label of another partition ({Error})", ns, seen.Name, e.Message);
            }
        }

        /// <summary>Sharded: an owned Canary without its partition's label (new, or labelled for another partition count, or
        /// by hand) gets it, so that the other replicas' watches stop receiving it. True when written: the write's own event
        /// carries on from here (and the finalizer's patch, conditional on the version, would meet the new one). A write
        /// that fails is no reason to stop: the Canary is handled unlabelled, and its next event tries again. Called under
        /// the watch's lock, in the partition's scope.</summary>
        private async Task<bool> LabelIfStaleAsync(CanaryResource canary)
        {
            if (!Sharded) return false;
            var value = Hosting.Sharding.PartitionLabel.Value(PartitionOf(canary.TargetName), owner.ownership.Partitions);
            if (canary.Metadata.Labels?.GetValueOrDefault(Hosting.Sharding.PartitionLabel.Key) == value) return false;
            try
            {
                await owner.api.SetPartitionLabelAsync(ns, canary.Name, value, _ct);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return true; } // gone: its event says so
            catch (Exception e) when (e is not OperationCanceledException)
            {
                owner._logger.LogWarning("Canary {Namespace}/{Name}: could not write its partition label ({Error})", ns, canary.Name, e.Message);
                return false;
            }
        }
    }
}
