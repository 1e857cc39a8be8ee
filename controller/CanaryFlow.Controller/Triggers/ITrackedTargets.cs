using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Triggers;

/// <summary>
/// The Deployments that Canary resources govern, with the container image each tracks and which
/// pushed tags may start a rollout. Implemented from the Canary resources (Kubernetes).
/// </summary>
public interface ITrackedTargets
{
    Task<IReadOnlyList<TrackedTarget>> ListAsync(CancellationToken cancellationToken);
}

/// <param name="Container">Container name in the target's pod template.</param>
/// <param name="ImageRepository">Repository without tag or digest, e.g. "ghcr.io/acme/checkout".</param>
public sealed record TrackedTarget(RolloutTarget Target, string Container, string ImageRepository, TagPolicy TagPolicy);

/// <summary>Which tags start a rollout: <c>Kind</c> is "exact" (Value = the tag), "semver" (Value = a range
/// such as ">=1.2.0 &lt;2.0.0"), or "regex" (Value = a .NET regular expression matched against the whole tag).</summary>
public sealed record TagPolicy(string Kind, string Value);

/// <summary>Sets a target's container image (by digest where known); the Deployment watch turns the change into a rollout.</summary>
public interface IImageUpdater
{
    /// <returns>False when the image was already set (nothing changed).</returns>
    Task<bool> SetImageAsync(RolloutTarget target, string container, string image, CancellationToken cancellationToken);
}
