using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Deletion;

/// <summary>
/// CanaryFlow's finalizer on a Canary: while it is there, a deleted Canary stays (marked with a deletionTimestamp)
/// until the controller has given the service back (<see cref="CanaryDeletion"/>). Both writes are JSON patches
/// conditional on the resourceVersion read, so they never clobber another controller's finalizers.
/// </summary>
public sealed class CanaryFinalizer(CanaryApi api)
{
    public const string Name = "canaryflow.dev/finalizer";

    public static bool Has(CanaryResource canary) => canary.Metadata.Finalizers?.Contains(Name) == true;

    /// <returns>False when the Canary changed since it was read (409): its newer version is on the watch already.</returns>
    public Task<bool> AddAsync(CanaryResource canary, CancellationToken ct) =>
        TryPatchAsync(canary, canary.Metadata.Finalizers is null
            ? JsonPatch.Add("/metadata/finalizers", new JsonArray(Name))
            : JsonPatch.Add("/metadata/finalizers/-", Name), ct);

    public async Task<bool> RemoveAsync(CanaryResource canary, CancellationToken ct)
    {
        var index = canary.Metadata.Finalizers?.ToList().IndexOf(Name) ?? -1;
        return index < 0 || await TryPatchAsync(canary, JsonPatch.Remove($"/metadata/finalizers/{index}"), ct);
    }

    private async Task<bool> TryPatchAsync(CanaryResource canary, JsonObject op, CancellationToken ct)
    {
        // Conditional on the version read: the index and the list are those we saw.
        var patch = JsonPatch.Conditional(canary.Metadata.ResourceVersion);
        patch.Add(op);
        try
        {
            await api.Client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.JsonPatch),
                CanaryResource.Group, CanaryResource.Version, canary.Namespace, CanaryResource.Plural, canary.Name, cancellationToken: ct);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound) { return false; }
    }
}
