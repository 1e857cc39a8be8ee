using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Read-modify-write of a Canary's status through the status subresource, conditional on the resourceVersion
/// read: a concurrent writer makes the PUT answer 409, and the change is re-applied to a fresh read. Fields
/// written by others (the watcher's, the store's) survive because the whole status is read first.
/// </summary>
public sealed class CanaryStatusWriter(CanaryApi api)
{
    private const int MaxAttempts = 5;

    /// <param name="mutate">Changes the status in place, given the whole object (may throw to abort).</param>
    public async Task UpdateAsync(string ns, string name, Action<JsonObject, JsonObject> mutate, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var raw = await api.GetCanaryRawAsync(ns, name, ct) ?? throw new InvalidOperationException($"Canary {ns}/{name} does not exist.");
            var status = raw["status"] as JsonObject ?? new JsonObject();
            raw["status"] = status;
            mutate(raw, status);
            try
            {
                await api.ReplaceCanaryStatusAsync(raw, ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }
}
