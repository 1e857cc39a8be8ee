using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Triggers;

namespace CanaryFlow.Controller.Kubernetes.Triggers;

/// <summary>The targets whose Canary has an image policy, read from the Canaries in the watched namespaces.</summary>
public sealed class CanaryTrackedTargets(CanaryApi api) : ITrackedTargets
{
    public async Task<IReadOnlyList<TrackedTarget>> ListAsync(CancellationToken cancellationToken) =>
        (await api.ListAllAsync(cancellationToken))
        // A Canary being deleted hands its target back to the user: image pushes no longer change it.
        .Where(c => c.Spec?.ImagePolicy is { Container.Length: > 0, Repository.Length: > 0 } && c.TargetName.Length > 0 && !c.IsDeleting)
        .Select(c =>
        {
            var p = c.Spec!.ImagePolicy!;
            var tags = p.TagPolicy is { Kind.Length: > 0, Value.Length: > 0 } tp ? new TagPolicy(tp.Kind, tp.Value) : new TagPolicy("regex", ".*");
            return new TrackedTarget(new RolloutTarget(c.Namespace, c.TargetName), p.Container!, p.Repository!, tags);
        })
        .ToList();
}
