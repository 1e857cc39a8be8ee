using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// Writes the weights of a Canary's VirtualService: each write is conditional on the version read (409 re-reads
/// and re-applies the desired weights) and is read back; a mismatch (another writer, a webhook rewriting the
/// object) is corrected and logged, so that traffic is never silently left where it should not be.
/// </summary>
public sealed class VirtualServiceWeights(CanaryApi api, ILogger<VirtualServiceWeights> logger)
{
    private const int MaxAttempts = 6;

    public async Task<TrafficWeights> ReadAsync(CanaryContext ctx, CancellationToken ct) =>
        Weights(ctx, await GetAsync(ctx, ct));

    /// <returns>The weights before the first write, and the VirtualService as read back with the weights asked for (so
    /// that what else the caller keeps in line with the weights needs no read of its own).</returns>
    public async Task<(TrafficWeights Before, JsonObject Written)> WriteAsync(CanaryContext ctx, int canaryWeight, CancellationToken ct)
    {
        var target = ctx.Target;
        var desired = new TrafficWeights(100 - canaryWeight, canaryWeight);
        TrafficWeights? before = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var vs = await GetAsync(ctx, ct);
            var current = Weights(ctx, vs);
            before ??= current;
            if (current == desired)
            {
                if (attempt > 1) logger.LogInformation("{Target}: weights verified at {Stable}/{Canary}", target, desired.Stable, desired.Canary);
                return (before.Value, vs);
            }
            if (attempt > 1)
                logger.LogWarning("{Target}: read back {Stable}/{Canary}, wanted {WantStable}/{WantCanary}; correcting",
                    target, current.Stable, current.Canary, desired.Stable, desired.Canary);
            try
            {
                await api.JsonPatchCustomAsync(Istio.Group, Istio.Version, target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName,
                    VirtualServiceRoutes.WeightPatch(vs, ctx.ServiceName, target.Namespace, canaryWeight, ctx.Subsets), ct);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
            {
                logger.LogInformation("{Target}: VirtualService changed while writing weights; re-reading", target);
            }
            // The next pass reads back what the server holds and returns only when it is what was asked.
        }
        throw new InvalidOperationException($"{target}: could not set canary weight {canaryWeight} after {MaxAttempts} attempts.");
    }

    public Task<JsonObject?> TryGetAsync(CanaryContext ctx, CancellationToken ct) =>
        api.GetCustomAsync(Istio.Group, Istio.Version, ctx.Target.Namespace, Istio.VirtualServices, ctx.VirtualServiceName, ct);

    /// <summary>Why the VirtualService cannot carry this Canary's weights, or null.</summary>
    public static string? Problem(CanaryContext ctx, JsonObject? vs) =>
        vs is null ? $"VirtualService {ctx.Target.Namespace}/{ctx.VirtualServiceName} does not exist"
        : VirtualServiceRoutes.Read(vs, ctx.ServiceName, ctx.Target.Namespace, ctx.Subsets) is null
            ? $"VirtualService {ctx.Target.Namespace}/{ctx.VirtualServiceName} has no route to service {ctx.ServiceName} through subset '{ctx.Subsets.Stable}'"
            : null;

    private async Task<JsonObject> GetAsync(CanaryContext ctx, CancellationToken ct) =>
        await TryGetAsync(ctx, ct) ?? throw new InvalidOperationException(Problem(ctx, null));

    private static TrafficWeights Weights(CanaryContext ctx, JsonObject vs) =>
        VirtualServiceRoutes.Read(vs, ctx.ServiceName, ctx.Target.Namespace, ctx.Subsets) ?? throw new InvalidOperationException(Problem(ctx, vs));
}
