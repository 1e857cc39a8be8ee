using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// The Kubernetes REST protocol as the real KubernetesClient meets it: conflicts, 404 Status, defaults, patches,
/// subresources, watches and their expiry. Runs on the sandbox and on the real kube-apiserver, which must agree.
/// </summary>
public abstract class ApiProtocolContract(KubeServer server) : TwoServerTest(server)
{
    protected IKubernetes Client => Host.Client;

    /// <summary>Lets the Deployment controller (simulated, or the real one with the fake kubelet) finish with the
    /// Deployment, so that its status writes cannot race the test's own writes.</summary>
    protected Task SettledAsync(string name) => KubeTestHost.EventuallyAsync(async () =>
        await Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns) is var d && d.Status?.ObservedGeneration == d.Metadata.Generation
        && (d.Status?.AvailableReplicas ?? 0) == d.Spec.Replicas, $"{name} status observed");

    [Fact]
    public async Task Replace_with_a_stale_resourceVersion_answers_409_Conflict()
    {
        // A Lease: no controller writes it, so the only writes are the test's.
        var created = await Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "web" }, Spec = new V1LeaseSpec { HolderIdentity = "a", LeaseDurationSeconds = 10 },
        }, Ns);
        created.Spec.HolderIdentity = "b";
        await Client.CoordinationV1.ReplaceNamespacedLeaseAsync(created, "web", Ns);

        created.Spec.HolderIdentity = "c"; // still carries the first resourceVersion
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoordinationV1.ReplaceNamespacedLeaseAsync(created, "web", Ns));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Equal("Conflict", (string?)JsonNode.Parse(e.Response.Content)!["reason"]);
        Assert.Equal("Operation cannot be fulfilled on leases.coordination.k8s.io \"web\": the object has been modified; please apply your changes to the latest version and try again",
            (string?)JsonNode.Parse(e.Response.Content)!["message"]);
        Assert.Equal("b", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("web", Ns)).Spec.HolderIdentity);
    }

    [Fact]
    public async Task Missing_object_answers_404_with_a_v1_Status()
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.AppsV1.ReadNamespacedDeploymentAsync("nope", Ns));
        Assert.Equal(HttpStatusCode.NotFound, e.Response.StatusCode);
        var status = JsonNode.Parse(e.Response.Content)!;
        Assert.Equal("Status", (string?)status["kind"]);
        Assert.Equal("NotFound", (string?)status["reason"]);
        Assert.Equal(404, (int?)status["code"]);
    }

    [Fact]
    public async Task Create_of_an_existing_name_answers_409_AlreadyExists_and_defaults_are_filled_in()
    {
        var created = await Host.CreateDeploymentAsync("web", "web:1");
        Assert.Equal("ClusterFirst", created.Spec.Template.Spec.DnsPolicy);
        Assert.Equal("IfNotPresent", created.Spec.Template.Spec.Containers[0].ImagePullPolicy);
        Assert.Equal("TCP", created.Spec.Template.Spec.Containers[0].Ports[0].Protocol); // so a pod template hashes alike on both servers
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Host.CreateDeploymentAsync("web", "web:1"));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Contains("AlreadyExists", e.Response.Content);
    }

    [Fact]
    public async Task An_object_that_names_another_namespace_than_the_URLs_is_refused_with_400()
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "elsewhere" }, Spec = new V1LeaseSpec(),
        }, Ns));
        Assert.Equal(HttpStatusCode.BadRequest, e.Response.StatusCode);
        Assert.Equal("the namespace of the provided object does not match the namespace sent on the request", (string?)JsonNode.Parse(e.Response.Content)!["message"]);
    }

    [Fact]
    public async Task Merge_patch_and_json_patch_change_only_what_they_name()
    {
        await Host.CreateDeploymentAsync("web", "web:1");
        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"metadata":{"labels":{"team":"a"}},"spec":{"replicas":5}}""", V1Patch.PatchType.MergePatch), "web", Ns);
        await Host.SetImageAsync("web", "web:2");
        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"metadata":{"labels":{"app":null}}}""", V1Patch.PatchType.StrategicMergePatch), "web", Ns);

        var d = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", Ns);
        Assert.Equal(5, d.Spec.Replicas);
        Assert.Equal("web:2", d.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "a" }, d.Metadata.Labels);
        Assert.Equal("web", d.Spec.Selector.MatchLabels["app"]);
    }

    [Fact]
    public async Task Status_subresource_changes_only_status_and_the_main_endpoint_ignores_status()
    {
        // A Canary: no controller runs in this test, so nothing else writes its status.
        await Host.CreateCanaryAsync("web", "web");
        var created = await Host.GetCanaryAsync("web");
        Assert.Equal(1, (long?)created["metadata"]!["generation"]);

        created["status"] = new JsonObject { ["canaryWeight"] = 42 };
        created["spec"]!["service"]!["port"] = 9090; // ignored on the status endpoint
        var afterStatus = (JsonObject)CanaryApi.ToNode(await Client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(created,
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "web"))!;
        Assert.Equal(42, (int?)afterStatus["status"]!["canaryWeight"]);
        Assert.Equal(8080, (int?)afterStatus["spec"]!["service"]!["port"]);
        Assert.Equal(1, (long?)afterStatus["metadata"]!["generation"]);

        afterStatus["status"] = new JsonObject { ["canaryWeight"] = 7 }; // ignored on the main endpoint
        afterStatus["spec"]!["service"]!["port"] = 9090;
        var afterSpec = (JsonObject)CanaryApi.ToNode(await Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(afterStatus,
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "web"))!;
        Assert.Equal(42, (int?)afterSpec["status"]!["canaryWeight"]);
        Assert.Equal(9090, (int?)afterSpec["spec"]!["service"]!["port"]);
        Assert.Equal(2, (long?)afterSpec["metadata"]!["generation"]);
    }

    [Fact]
    public async Task A_Deployment_becomes_available_when_its_pods_are_ready_and_misses_its_progress_deadline_when_they_never_are()
    {
        await Host.CreateDeploymentAsync("good", "web:1", replicas: 3);
        Host.FailReady("bad");
        await Host.CreateDeploymentAsync("bad", "web:1", replicas: 3);

        await KubeTestHost.EventuallyAsync(async () =>
            (await Client.AppsV1.ReadNamespacedDeploymentAsync("good", Ns)).Status?.AvailableReplicas == 3, "good available");
        await KubeTestHost.EventuallyAsync(async () =>
            (await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", Ns)).Status?.ObservedGeneration == 1, "bad observed");
        var bad = await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", Ns);
        Assert.Null(bad.Status.AvailableReplicas); // 0 is omitted, as the real server omits it
        Assert.Equal("False", bad.Status.Conditions.Single(c => c.Type == "Available").Status);

        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"spec":{"progressDeadlineSeconds":1}}""", V1Patch.PatchType.MergePatch), "bad", Ns);
        await KubeTestHost.EventuallyAsync(async () => (await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", Ns)).Status?.Conditions?
            .Any(c => c.Type == "Progressing" && c.Reason == "ProgressDeadlineExceeded" && c.Status == "False") == true, "progress deadline exceeded");
    }

    [Fact]
    public async Task Watch_streams_added_modified_deleted_and_list_filters_by_label()
    {
        var first = await Host.CreateDeploymentAsync("web", "web:1");
        var list = await Client.AppsV1.ListNamespacedDeploymentAsync(Ns, labelSelector: "app=web");
        Assert.Single(list.Items);
        Assert.Empty((await Client.AppsV1.ListNamespacedDeploymentAsync(Ns, labelSelector: "app in (other)")).Items);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<(WatchEventType, string)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, d) in Client.AppsV1.WatchListNamespacedDeploymentAsync(Ns, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                seen.Add((type, d.Metadata.Name));
                if (type == WatchEventType.Deleted) return;
            }
        }, cts.Token);
        await Host.CreateDeploymentAsync("api", "api:1");
        await Client.AppsV1.DeleteNamespacedDeploymentAsync("api", Ns);
        await watching;
        var api = seen.Where(s => s.Item2 == "api").ToList(); // "web" may show MODIFIED (its simulated status)
        Assert.Equal((WatchEventType.Added, "api"), api.First());
        Assert.Equal((WatchEventType.Deleted, "api"), api.Last());
        Assert.DoesNotContain((WatchEventType.Added, first.Metadata.Name), seen); // resumed after the list: no replay
    }

    /// <summary>Sharded replicas watch only the objects labelled with their partitions, and relabel them: a watch with a
    /// label selector must learn that an object came in (ADDED) and that it went out (DELETED, with its content as the
    /// watch last saw it and the resourceVersion of the change), live and when resumed from an earlier resourceVersion.</summary>
    [Theory]
    [InlineData("apps", "v1", "deployments")]
    [InlineData(CanaryResource.Group, CanaryResource.Version, CanaryResource.Plural)]
    public async Task A_label_selector_watch_sees_an_object_entering_as_added_and_leaving_as_deleted(string group, string version, string plural)
    {
        const string partition = "canaryflow.io/partition";
        async Task<JsonObject> PatchAsync(string name, string field, string key, string value) => (JsonObject)CanaryApi.ToNode(
            await Client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(new JsonObject
            {
                ["metadata"] = new JsonObject { [field] = new JsonObject { [key] = value } },
            }.ToJsonString(), V1Patch.PatchType.MergePatch), group, version, Ns, plural, name))!;
        async Task<JsonObject> ListAsync(string? labelSelector = null) => (JsonObject)CanaryApi.ToNode(
            await Client.CustomObjects.ListNamespacedCustomObjectAsync(group, version, Ns, plural, labelSelector: labelSelector))!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // Reads until "leaving" is deleted: the last change the test makes.
        Task<List<(string Name, WatchEventType Type, JsonObject Object)>> WatchAsync(string resourceVersion) => Task.Run(async () =>
        {
            var seen = new List<(string, WatchEventType, JsonObject)>();
            await foreach (var (type, item) in Client.CustomObjects.WatchListNamespacedCustomObjectAsync(group, version, Ns, plural,
                               labelSelector: $"{partition} in (1-of-4)", resourceVersion: resourceVersion, cancellationToken: cts.Token))
            {
                var obj = (JsonObject)CanaryApi.ToNode(item)!;
                var name = (string)obj["metadata"]!["name"]!;
                seen.Add((name, type, obj));
                if (name == "leaving" && type == WatchEventType.Deleted) return seen;
            }
            return seen;
        }, cts.Token);

        foreach (var name in new[] { "moving", "leaving" })
            if (plural == "deployments") await Host.CreateDeploymentAsync(name, "web:1");
            else await Host.CreateCanaryAsync(name, name);
        var beforeLabels = (string)(await ListAsync())["metadata"]!["resourceVersion"]!;
        await PatchAsync("leaving", "labels", partition, "1-of-4");
        var listed = await ListAsync($"{partition} in (1-of-4)");
        Assert.Equal(["leaving"], ((JsonArray)listed["items"]!).Select(i => (string?)i!["metadata"]!["name"]));

        var live = WatchAsync((string)listed["metadata"]!["resourceVersion"]!);
        // On the sandbox, changes made before the watch is open would come from its history, not to an open watch.
        if (Server == KubeServer.Sandbox)
            await KubeTestHost.EventuallyAsync(() => Task.FromResult(Host.Sandbox.Store.OpenWatchCount == 1), "the watch open");
        await PatchAsync("moving", "labels", partition, "1-of-4");
        await PatchAsync("moving", "annotations", "note", "in");
        var left = await PatchAsync("moving", "labels", partition, "2-of-4");
        await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(group, version, Ns, plural, "leaving");

        void AssertTransitions(List<(string Name, WatchEventType Type, JsonObject Object)> seen, bool fromBeforeLabels)
        {
            // The Deployment controller's status writes add MODIFIED events while an object matches: the transitions count.
            string Types(string name) => string.Concat(seen.Where(e => e.Name == name).Select(e => e.Type.ToString()[0]));
            Assert.Matches("^AM+D$", Types("moving"));
            Assert.Matches(fromBeforeLabels ? "^AM*D$" : "^M*D$", Types("leaving"));
            Assert.Contains(seen, e => e is { Name: "moving", Type: WatchEventType.Modified } && (string?)e.Object["metadata"]!["annotations"]?["note"] == "in");
            var gone = seen.Single(e => e is { Name: "moving", Type: WatchEventType.Deleted }).Object["metadata"]!;
            Assert.Equal("1-of-4", (string?)gone["labels"]![partition]); // its content before the change that took it out
            Assert.Equal("in", (string?)gone["annotations"]!["note"]);
            Assert.Equal((string?)left["metadata"]!["resourceVersion"], (string?)gone["resourceVersion"]); // the change's own
        }
        AssertTransitions(await live, fromBeforeLabels: false);
        AssertTransitions(await WatchAsync(beforeLabels), fromBeforeLabels: true);
    }

    [Fact]
    public async Task A_Deployments_generation_rises_with_its_spec_and_its_annotations_and_not_with_its_labels()
    {
        await Host.CreateDeploymentAsync("web", "web:1");
        async Task<long?> PatchAsync(string patch) =>
            (await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), "web", Ns)).Metadata.Generation;

        Assert.Equal(1, await PatchAsync("""{"metadata":{"labels":{"canaryflow.dev/partition":"1-of-4"}}}"""));
        Assert.Equal(2, await PatchAsync("""{"metadata":{"annotations":{"touched":"yes"}}}"""));
        Assert.Equal(3, await PatchAsync("""{"spec":{"replicas":3}}"""));
    }

    [Fact]
    public async Task Scale_subresource_reads_and_writes_only_replicas()
    {
        await Host.CreateDeploymentAsync("web", "web:1", replicas: 2);
        await SettledAsync("web");
        var scale = await Client.AppsV1.ReadNamespacedDeploymentScaleAsync("web", Ns);
        Assert.Equal(2, scale.Spec.Replicas);
        Assert.Equal("app=web", scale.Status.Selector);

        await Client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":4}}""", V1Patch.PatchType.MergePatch), "web", Ns);
        scale.Spec.Replicas = 5; // carries the resourceVersion from before the patch
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => Client.AppsV1.ReplaceNamespacedDeploymentScaleAsync(scale, "web", Ns));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        await Client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":6}}""", V1Patch.PatchType.MergePatch), "web", Ns);

        var d = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", Ns);
        Assert.Equal(6, d.Spec.Replicas);
        Assert.Equal("web:1", d.Spec.Template.Spec.Containers[0].Image);
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_reports_410_Gone()
    {
        // Events: the real server keeps no watch cache for them, so its watch goes to etcd, which has compacted.
        var first = await Host.CreateEventAsync("first");
        await Host.CreateEventAsync("second");
        await Host.CreateEventAsync("third");
        await Host.CompactAsync();

        Exception? error = null;
        var events = 0;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // the server ends this watch at once; the bound is a net
        await foreach (var _ in Client.CoreV1.WatchListNamespacedEventAsync(Ns, resourceVersion: first.Metadata.ResourceVersion, onError: e => error = e,
                           timeoutSeconds: 30, cancellationToken: bound.Token))
            events++;
        Assert.Equal(0, events);
        var status = Assert.IsType<KubernetesException>(error).Status;
        Assert.Equal(410, status.Code);
        Assert.Equal("Expired", status.Reason);
    }

}

/// <summary>The protocol on the sandbox, plus its own hooks (bookmarks on a short interval, fault injection).</summary>
public sealed class ApiProtocolOnSandbox() : ApiProtocolContract(KubeServer.Sandbox)
{
    [Fact]
    public async Task A_watch_that_allows_bookmarks_gets_the_current_resourceVersion_while_idle()
    {
        var created = await Host.CreateDeploymentAsync("web", "web:1");
        await SettledAsync("web");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var (type, d) in Client.AppsV1.WatchListNamespacedDeploymentAsync(Ns, allowWatchBookmarks: true,
                           resourceVersion: created.Metadata.ResourceVersion, cancellationToken: cts.Token))
        {
            if (type != WatchEventType.Bookmark) continue;
            Assert.Equal(Host.Sandbox.Store.CurrentResourceVersion.ToString(), d.Metadata.ResourceVersion);
            return;
        }
        Assert.Fail("the stream ended without a bookmark");
    }

    [Fact]
    public async Task Injected_faults_answer_with_their_status_and_Retry_After()
    {
        using var http = new HttpClient { BaseAddress = Host.Sandbox.BaseAddress };
        Host.Sandbox.Faults.Add(new CanaryFlow.Sandbox.Kubernetes.Fault(429, 1, RetryAfterSeconds: 2));
        var response = await http.GetAsync("/apis/apps/v1/namespaces/default/deployments");
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/apis/apps/v1/namespaces/default/deployments")).StatusCode);

        // The same through the control API, for callers in another process.
        var added = await http.PostAsync("/sandbox/faults", new StringContent("""{"statusCode":500,"remaining":1,"method":"GET"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, added.StatusCode);
        var failed = await http.GetAsync("/api/v1/namespaces/default/services");
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Contains("\"kind\":\"Status\"", await failed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/sandbox/faults", new StringContent("""{"statusCode":200,"remaining":1}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Contains($"server: {Host.Sandbox.BaseAddress.ToString().TrimEnd('/')}", await http.GetStringAsync("/sandbox/kubeconfig"));
    }
}

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class ApiProtocolOnRealServer() : ApiProtocolContract(KubeServer.Real);
