using System.Net;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// List-then-watch, the informer pattern: list to fill the cache, watch from the list's resourceVersion,
/// resume from the last version seen when a stream ends or drops, relist when the server answers 410 Gone,
/// and back off (jittered, capped) on errors and on streams that end without delivering anything.
/// </summary>
public sealed class ResilientWatch<T>(
    string what,
    Func<CancellationToken, Task<(IReadOnlyList<T> Items, string ResourceVersion)>> list,
    Func<string, Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> watch,
    Func<T, string?> resourceVersionOf,
    TimeProvider time,
    TimeSpan maxBackoff,
    ILogger logger)
{
    /// <summary>How many times the watch listed (the first time, then after each 410).</summary>
    public int Lists { get; private set; }

    public async Task RunAsync(Func<IReadOnlyList<T>, Task> onList, Func<WatchEventType, T, Task> onEvent, CancellationToken ct)
    {
        string? resourceVersion = null;
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    var (items, listed) = await list(ct);
                    Lists++;
                    await onList(items);
                    resourceVersion = listed;
                }
                Exception? streamError = null;
                var delivered = false;
                await foreach (var (type, item) in watch(resourceVersion, e => streamError = e, ct))
                {
                    delivered = true;
                    failures = 0;
                    if (type != WatchEventType.Bookmark) await onEvent(type, item);
                    resourceVersion = resourceVersionOf(item) ?? resourceVersion;
                }
                if (streamError is KubernetesException { Status.Code: 410 })
                {
                    logger.LogInformation("{What} watch: resourceVersion {Version} expired (410 Gone); relisting", what, resourceVersion);
                    resourceVersion = null;
                    continue;
                }
                if (streamError is not null) throw streamError;
                if (!delivered) await BackOffAsync(++failures, ct); // a server that closes at once must not make us spin
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone) { resourceVersion = null; }
            catch (Exception e)
            {
                logger.LogWarning("{What} watch failed ({Error}); reconnecting", what, e.Message);
                await BackOffAsync(++failures, ct);
            }
        }
    }

    private async Task BackOffAsync(int failures, CancellationToken ct)
    {
        var ceiling = Math.Min(maxBackoff.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(failures, 16)));
        var delay = TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
        try { await Task.Delay(delay, time, ct); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }
}
