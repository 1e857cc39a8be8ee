using CanaryFlow.Controller.Triggers.Matching;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers;

/// <param name="Matched">Targets whose repository and tag policy matched.</param>
/// <param name="Updated">"ns/name=image" for each target whose image changed (each starts one rollout).</param>
public sealed record PushResult(int Matched, IReadOnlyList<string> Updated);

/// <summary>
/// Turns verified pushes into image changes: matches each push to the tracked targets (repository,
/// then tag policy) and sets the image, by digest where the registry sent one. The Deployment watch
/// then starts the rollout, so a push never talks to the saga directly.
/// </summary>
public sealed class ImagePushHandler
{
    private readonly ITrackedTargets _targets;
    private readonly IImageUpdater _updater;
    private readonly ILogger<ImagePushHandler> _logger;
    private readonly RecentSet _recent;

    public ImagePushHandler(ITrackedTargets targets, IImageUpdater updater, IOptions<RegistryWebhookOptions> options,
        TimeProvider time, ILogger<ImagePushHandler> logger)
    {
        (_targets, _updater, _logger) = (targets, updater, logger);
        // Two registries (or a registry and its CloudEvents twin) announcing the same digest make one change.
        _recent = new RecentSet(options.Value.MaxRememberedDeliveries, options.Value.DuplicatePushWindow, time);
    }

    public async Task<PushResult> HandleAsync(IReadOnlyList<ImagePush> pushes, CancellationToken cancellationToken)
    {
        if (pushes.Count == 0) return new PushResult(0, []);
        var tracked = await _targets.ListAsync(cancellationToken);
        var matched = 0;
        var updated = new List<string>();
        foreach (var push in pushes)
        {
            var repository = ImageReferences.NormalizeRepository(push.Repository);
            foreach (var target in tracked)
            {
                if (ImageReferences.NormalizeRepository(target.ImageRepository) != repository || !TagPolicyMatcher.Matches(target.TagPolicy, push.Tag))
                    continue;
                matched++;
                var image = ImageFor(target.ImageRepository, push);
                var key = $"{target.Target}|{target.Container}|{image}";
                if (!_recent.TryAdd(key)) continue;
                try
                {
                    if (await _updater.SetImageAsync(target.Target, target.Container, image, cancellationToken))
                    {
                        updated.Add($"{target.Target}={image}");
                        _logger.LogInformation("Pushed image {Image} set on {Target} container {Container}", image, target.Target, target.Container);
                    }
                }
                catch
                {
                    _recent.Remove(key); // not done: a retry by the registry must be accepted
                    throw;
                }
            }
        }
        return new PushResult(matched, updated);
    }

    // "repo:tag@sha256:..." pins the content and still shows people which tag it was.
    private static string ImageFor(string repository, ImagePush push) =>
        push.Digest is { } d && ImageReferences.IsDigest(d)
            ? push.Tag is { } t ? $"{repository}:{t}@{d}" : $"{repository}@{d}"
            : $"{repository}:{push.Tag}";
}
