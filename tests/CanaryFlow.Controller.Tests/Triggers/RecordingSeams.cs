using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Triggers;

namespace CanaryFlow.Controller.Tests.Triggers;

/// <summary>In-test stand-ins for the Kubernetes-backed seams: a fixed list of targets and an updater that records.</summary>
public sealed class FixedTrackedTargets(params TrackedTarget[] targets) : ITrackedTargets
{
    public Task<IReadOnlyList<TrackedTarget>> ListAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TrackedTarget>>(targets);
}

public sealed class RecordingImageUpdater : IImageUpdater
{
    private readonly ConcurrentDictionary<(RolloutTarget, string), string> _images = new();

    public ConcurrentQueue<(RolloutTarget Target, string Container, string Image)> Changes { get; } = new();

    /// <summary>The next call fails, as a call to an unreachable Kubernetes API would.</summary>
    public bool FailNext { get; set; }

    public Task<bool> SetImageAsync(RolloutTarget target, string container, string image, CancellationToken cancellationToken)
    {
        if (FailNext)
        {
            FailNext = false;
            throw new HttpRequestException("Kubernetes API unreachable");
        }
        // Like the real updater: setting the image a Deployment already has changes nothing.
        if (_images.TryGetValue((target, container), out var current) && current == image) return Task.FromResult(false);
        _images[(target, container)] = image;
        Changes.Enqueue((target, container, image));
        return Task.FromResult(true);
    }
}
