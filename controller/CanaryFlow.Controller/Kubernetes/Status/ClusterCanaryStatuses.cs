using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Watch;
using k8s;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Every Canary's status summary, for the cluster-wide view (the status page and API). One replica alone watches every
/// Canary, and its watch keeps the compact index (<see cref="CanaryStatusIndex"/>). A sharded replica's watch receives its
/// own partitions' Canaries only (issue 15), so that its cost follows what it holds, not the cluster: it lists every
/// watched namespace's Canaries when the view is asked for, page by page, keeping each one's summary only. One list runs
/// at a time, and its answer serves every caller for <see cref="MaxAge"/>: a page refreshed every few seconds by many
/// people costs one list per <see cref="MaxAge"/>.
/// </summary>
public sealed class ClusterCanaryStatuses(IKubernetes client, IOptions<KubernetesOptions> options, CanaryStatusIndex index, IPartitionOwnership ownership,
    TimeProvider time, ILogger<ClusterCanaryStatuses> logger)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _listing = new(1, 1);
    private volatile Listing? _listed; // one reference: read without the lock, never half of one list and half of another

    private sealed record Listing(DateTimeOffset At, IReadOnlyDictionary<RolloutTarget, CanaryStatusSummary> ByTarget);

    /// <summary>Whether the watch sees every Canary (so the index has them all), or the view lists them.</summary>
    private bool Listed => ownership.Partitions > 1;

    public async Task<IReadOnlyCollection<CanaryStatusSummary>> AllAsync(CancellationToken ct) =>
        Listed ? [.. (await ListedAsync(ct)).Values] : index.All;

    public async Task<CanaryStatusSummary?> FindAsync(RolloutTarget target, CancellationToken ct) =>
        Listed ? (await ListedAsync(ct)).GetValueOrDefault(target) : index.Find(target);

    private async Task<IReadOnlyDictionary<RolloutTarget, CanaryStatusSummary>> ListedAsync(CancellationToken ct)
    {
        if (Fresh() is { } fresh) return fresh;
        await _listing.WaitAsync(ct);
        try
        {
            if (Fresh() is { } listedMeanwhile) return listedMeanwhile; // another caller's list, made while this one waited
            var byTarget = new Dictionary<RolloutTarget, CanaryStatusSummary>();
            foreach (var ns in options.Value.Namespaces)
                await foreach (var page in CanaryStateListing.PagesAsync(client, ns, ct))
                    foreach (var seen in page.Items.Select(item => new Sighting(item)))
                        if (seen.TargetName.Length > 0)
                        {
                            var target = new RolloutTarget(ns, seen.TargetName);
                            byTarget[target] = CanaryStatusIndex.Summarise(target, seen.Name, seen.Status);
                        }
            _listed = new Listing(time.GetUtcNow(), byTarget);
            return byTarget;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The view shows this replica's own rollouts and the last list (if any), rather than nothing: the next caller tries again.
            logger.LogWarning("The cluster-wide view could not list the Canaries ({Error})", e.Message);
            return _listed?.ByTarget ?? new Dictionary<RolloutTarget, CanaryStatusSummary>();
        }
        finally { _listing.Release(); }
    }

    private IReadOnlyDictionary<RolloutTarget, CanaryStatusSummary>? Fresh() =>
        _listed is { } listed && time.GetUtcNow() - listed.At < MaxAge ? listed.ByTarget : null;
}
