using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Finalizers as the API server keeps them (metadata.finalizers, deletionTimestamp), on the sandbox and on the real server.</summary>
public abstract class FinalizerContract(KubeServer server) : TwoServerTest(server)
{
    private const string Finalizer = "example.com/hold";
    private IKubernetes Client => Host.Client;

    private async Task CreateHeldCanaryAsync()
    {
        await Host.CreateCanaryAsync("held", "web");
        await PatchCanaryAsync($$"""[{"op":"add","path":"/metadata/finalizers","value":["{{Finalizer}}","other.example.com/x"]}]""");
    }

    private async Task<JsonObject> PatchCanaryAsync(string jsonPatch) =>
        (JsonObject)CanaryApi.ToNode(await Client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(jsonPatch, V1Patch.PatchType.JsonPatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "held"))!;

    private async Task<JsonObject> DeleteCanaryAsync() =>
        (JsonObject)CanaryApi.ToNode(await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version,
            Ns, CanaryResource.Plural, "held"))!;

    /// <summary>Collects the Canary watch events until one of <paramref name="last"/> type arrives.</summary>
    private Task<List<(WatchEventType Type, JsonObject Object)>> WatchUntilAsync(string resourceVersion, WatchEventType last, CancellationToken ct) => Task.Run(async () =>
    {
        var seen = new List<(WatchEventType, JsonObject)>();
        await foreach (var (type, item) in Client.CustomObjects.WatchListNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version,
                           Ns, CanaryResource.Plural, resourceVersion: resourceVersion, cancellationToken: ct))
        {
            seen.Add((type, (JsonObject)CanaryApi.ToNode(item)!));
            if (type == last) break;
        }
        return seen;
    }, ct);

    [Fact]
    public async Task Delete_of_an_object_with_finalizers_marks_it_answers_200_with_it_and_a_second_delete_changes_nothing()
    {
        await CreateHeldCanaryAsync();
        var before = await Host.GetCanaryAsync("held");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watching = WatchUntilAsync((string)before["metadata"]!["resourceVersion"]!, WatchEventType.Modified, cts.Token);

        var answered = await DeleteCanaryAsync();

        Assert.Equal("Canary", (string?)answered["kind"]); // the object, not a Status
        Assert.NotNull(answered["metadata"]!["deletionTimestamp"]);
        Assert.Equal(0, (int?)answered["metadata"]!["deletionGracePeriodSeconds"]);
        Assert.Equal((long)before["metadata"]!["generation"]! + 1, (long?)answered["metadata"]!["generation"]);
        var modified = Assert.Single(await watching);
        Assert.Equal(WatchEventType.Modified, modified.Type);
        Assert.NotNull(modified.Object["metadata"]!["deletionTimestamp"]);

        var again = await DeleteCanaryAsync();
        Assert.Equal((string?)answered["metadata"]!["resourceVersion"], (string?)again["metadata"]!["resourceVersion"]);
        Assert.Equal((string?)answered["metadata"]!["deletionTimestamp"], (string?)again["metadata"]!["deletionTimestamp"]);
        Assert.NotNull(await Host.GetCanaryAsync("held"));
    }

    [Fact]
    public async Task The_update_that_removes_the_last_finalizer_deletes_the_object()
    {
        await CreateHeldCanaryAsync();
        var marked = await DeleteCanaryAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watching = WatchUntilAsync((string)marked["metadata"]!["resourceVersion"]!, WatchEventType.Deleted, cts.Token);

        // One of two removed: still there (and an update must not clear deletionTimestamp).
        await PatchCanaryAsync("""[{"op":"remove","path":"/metadata/finalizers/1"},{"op":"remove","path":"/metadata/deletionTimestamp"}]""");
        var held = await Host.GetCanaryAsync("held");
        Assert.Equal((string?)marked["metadata"]!["deletionTimestamp"], (string?)held["metadata"]!["deletionTimestamp"]);
        // Status can still be written while it waits.
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch("""{"status":{"message":"finalizing"}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "held");

        await PatchCanaryAsync("""[{"op":"remove","path":"/metadata/finalizers/0"}]""");

        var events = await watching;
        Assert.Equal([WatchEventType.Modified, WatchEventType.Modified, WatchEventType.Deleted], events.Select(e => e.Type));
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Host.GetCanaryAsync("held"));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);
    }

    [Fact]
    public async Task No_finalizer_can_be_added_to_an_object_being_deleted()
    {
        await CreateHeldCanaryAsync();
        await DeleteCanaryAsync();

        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            PatchCanaryAsync("""[{"op":"add","path":"/metadata/finalizers/-","value":"late.example.com/x"}]"""));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, e.Response.StatusCode);
        Assert.Contains("no new finalizers can be added if the object is being deleted", e.Response.Content);
        Assert.Equal(2, (await Host.GetCanaryAsync("held"))["metadata"]!["finalizers"]!.AsArray().Count);
    }

    [Fact]
    public async Task An_object_without_finalizers_goes_at_once_and_no_client_can_start_a_deletion_by_writing_a_deletionTimestamp()
    {
        await Host.CreateCanaryAsync("held", "web");
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"metadata":{"deletionTimestamp":"2020-01-01T00:00:00Z"}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "held"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Equal("Canary.canaryflow.dev \"held\" is invalid: metadata.deletionTimestamp: Invalid value: 2020-01-01 00:00:00 +0000 UTC: field is immutable",
            (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
        Assert.Null((await Host.GetCanaryAsync("held"))["metadata"]!["deletionTimestamp"]);

        await DeleteCanaryAsync();

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Host.GetCanaryAsync("held"));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);
    }
}

public sealed class FinalizersOnSandbox() : FinalizerContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class FinalizersOnRealServer() : FinalizerContract(KubeServer.Real);
