using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The sandbox speaks the Kubernetes REST protocol as the real KubernetesClient expects it.</summary>
public sealed class SandboxProtocolTests : SandboxTest
{
    private IKubernetes Client => Host.Client;

    /// <summary>Lets the simulated Deployment controller write its status first, so that it cannot race the test's own writes.</summary>
    private Task SettledAsync(string name) => KubeTestHost.EventuallyAsync(async () =>
        (await Client.AppsV1.ReadNamespacedDeploymentAsync(name, KubeTestHost.Ns)).Status?.ObservedGeneration == 1, $"{name} status observed");

    [Fact]
    public async Task Replace_with_a_stale_resourceVersion_answers_409_Conflict()
    {
        await Host.CreateDeploymentAsync("web", "web:1");
        await SettledAsync("web");
        var created = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", KubeTestHost.Ns);
        created.Spec.Replicas = 3;
        await Client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "web", KubeTestHost.Ns);

        created.Spec.Replicas = 4; // still carries the first resourceVersion
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.AppsV1.ReplaceNamespacedDeploymentAsync(created, "web", KubeTestHost.Ns));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Contains("\"reason\":\"Conflict\"", e.Response.Content);
        Assert.Equal(3, (await Client.AppsV1.ReadNamespacedDeploymentAsync("web", KubeTestHost.Ns)).Spec.Replicas);
    }

    [Fact]
    public async Task Missing_object_answers_404_with_a_v1_Status()
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Client.AppsV1.ReadNamespacedDeploymentAsync("nope", KubeTestHost.Ns));
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
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Host.CreateDeploymentAsync("web", "web:1"));
        Assert.Equal(HttpStatusCode.Conflict, e.Response.StatusCode);
        Assert.Contains("AlreadyExists", e.Response.Content);
    }

    [Fact]
    public async Task Merge_patch_and_json_patch_change_only_what_they_name()
    {
        await Host.CreateDeploymentAsync("web", "web:1");
        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"metadata":{"labels":{"team":"a"}},"spec":{"replicas":5}}""", V1Patch.PatchType.MergePatch), "web", KubeTestHost.Ns);
        await Host.SetImageAsync("web", "web:2");
        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"metadata":{"labels":{"app":null}}}""", V1Patch.PatchType.StrategicMergePatch), "web", KubeTestHost.Ns);

        var d = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", KubeTestHost.Ns);
        Assert.Equal(5, d.Spec.Replicas);
        Assert.Equal("web:2", d.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "a" }, d.Metadata.Labels);
        Assert.Equal("web", d.Spec.Selector.MatchLabels["app"]);
    }

    [Fact]
    public async Task Status_subresource_changes_only_status_and_the_main_endpoint_ignores_status()
    {
        var created = await Host.CreateDeploymentAsync("web", "web:1");
        Assert.Equal(1, created.Metadata.Generation);
        await SettledAsync("web");

        var withStatus = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", KubeTestHost.Ns);
        withStatus.Status = new V1DeploymentStatus { Replicas = 42 };
        withStatus.Spec.Replicas = 9; // ignored on the status endpoint
        var afterStatus = await Client.AppsV1.ReplaceNamespacedDeploymentStatusAsync(withStatus, "web", KubeTestHost.Ns);
        Assert.Equal(42, afterStatus.Status.Replicas);
        Assert.Equal(2, afterStatus.Spec.Replicas);
        Assert.Equal(1, afterStatus.Metadata.Generation);

        afterStatus.Status = new V1DeploymentStatus { Replicas = 7 }; // ignored on the main endpoint
        afterStatus.Spec.Replicas = 3;
        var afterSpec = await Client.AppsV1.ReplaceNamespacedDeploymentAsync(afterStatus, "web", KubeTestHost.Ns);
        Assert.Equal(42, afterSpec.Status.Replicas);
        Assert.Equal(3, afterSpec.Spec.Replicas);
        Assert.Equal(2, afterSpec.Metadata.Generation);
    }

    [Fact]
    public async Task Deployment_simulation_makes_a_rollout_available_or_not_when_told_to_fail()
    {
        await Host.CreateDeploymentAsync("good", "web:1", replicas: 3);
        Host.Sandbox.Deployments.FailReady(KubeTestHost.Ns, "bad");
        await Host.CreateDeploymentAsync("bad", "web:1", replicas: 3);

        await KubeTestHost.EventuallyAsync(async () =>
            (await Client.AppsV1.ReadNamespacedDeploymentAsync("good", KubeTestHost.Ns)).Status?.AvailableReplicas == 3, "good available");
        await KubeTestHost.EventuallyAsync(async () =>
            (await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", KubeTestHost.Ns)).Status?.ObservedGeneration == 1, "bad observed");
        var bad = await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", KubeTestHost.Ns);
        Assert.Null(bad.Status.AvailableReplicas);
        Assert.Equal("False", bad.Status.Conditions.Single(c => c.Type == "Available").Status);

        await Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"spec":{"progressDeadlineSeconds":1}}""", V1Patch.PatchType.MergePatch), "bad", KubeTestHost.Ns);
        await KubeTestHost.EventuallyAsync(async () => (await Client.AppsV1.ReadNamespacedDeploymentAsync("bad", KubeTestHost.Ns)).Status?.Conditions?
            .Any(c => c.Type == "Progressing" && c.Reason == "ProgressDeadlineExceeded" && c.Status == "False") == true, "progress deadline exceeded");
    }

    [Fact]
    public async Task Watch_streams_added_modified_deleted_and_list_filters_by_label()
    {
        var first = await Host.CreateDeploymentAsync("web", "web:1");
        var list = await Client.AppsV1.ListNamespacedDeploymentAsync(KubeTestHost.Ns, labelSelector: "app=web");
        Assert.Single(list.Items);
        Assert.Empty((await Client.AppsV1.ListNamespacedDeploymentAsync(KubeTestHost.Ns, labelSelector: "app in (other)")).Items);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<(WatchEventType, string)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, d) in Client.AppsV1.WatchListNamespacedDeploymentAsync(KubeTestHost.Ns, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                seen.Add((type, d.Metadata.Name));
                if (type == WatchEventType.Deleted) return;
            }
        }, cts.Token);
        await Host.CreateDeploymentAsync("api", "api:1");
        await Client.AppsV1.DeleteNamespacedDeploymentAsync("api", KubeTestHost.Ns);
        await watching;
        var api = seen.Where(s => s.Item2 == "api").ToList(); // "web" may show MODIFIED (its simulated status)
        Assert.Equal((WatchEventType.Added, "api"), api.First());
        Assert.Equal((WatchEventType.Deleted, "api"), api.Last());
        Assert.DoesNotContain((WatchEventType.Added, first.Metadata.Name), seen); // resumed after the list: no replay
    }

    [Fact]
    public async Task Scale_subresource_reads_and_writes_only_replicas()
    {
        await Host.CreateDeploymentAsync("web", "web:1", replicas: 2);
        await SettledAsync("web");
        var scale = await Client.AppsV1.ReadNamespacedDeploymentScaleAsync("web", KubeTestHost.Ns);
        Assert.Equal(2, scale.Spec.Replicas);
        Assert.Equal("app=web", scale.Status.Selector);

        scale.Spec.Replicas = 4;
        await Client.AppsV1.ReplaceNamespacedDeploymentScaleAsync(scale, "web", KubeTestHost.Ns);
        await Client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":6}}""", V1Patch.PatchType.MergePatch), "web", KubeTestHost.Ns);

        var d = await Client.AppsV1.ReadNamespacedDeploymentAsync("web", KubeTestHost.Ns);
        Assert.Equal(6, d.Spec.Replicas);
        Assert.Equal("web:1", d.Spec.Template.Spec.Containers[0].Image);
        var stale = Assert.ThrowsAsync<HttpOperationException>(() => Client.AppsV1.ReplaceNamespacedDeploymentScaleAsync(scale, "web", KubeTestHost.Ns));
        Assert.Equal(HttpStatusCode.Conflict, (await stale).Response.StatusCode);
    }

    [Fact]
    public async Task A_watch_that_allows_bookmarks_gets_the_current_resourceVersion_while_idle()
    {
        var created = await Host.CreateDeploymentAsync("web", "web:1");
        await SettledAsync("web");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var (type, d) in Client.AppsV1.WatchListNamespacedDeploymentAsync(KubeTestHost.Ns, allowWatchBookmarks: true,
                           resourceVersion: created.Metadata.ResourceVersion, cancellationToken: cts.Token))
        {
            if (type != WatchEventType.Bookmark) continue;
            Assert.Equal(Host.Sandbox.Store.CurrentResourceVersion.ToString(), d.Metadata.ResourceVersion);
            return;
        }
        Assert.Fail("the stream ended without a bookmark");
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_reports_410_Gone()
    {
        var created = await Host.CreateDeploymentAsync("web", "web:1");
        await Host.SetImageAsync("web", "web:2");
        Host.Sandbox.Store.Compact();

        Exception? error = null;
        var events = 0;
        await foreach (var _ in Client.AppsV1.WatchListNamespacedDeploymentAsync(KubeTestHost.Ns, resourceVersion: created.Metadata.ResourceVersion, onError: e => error = e))
            events++;
        Assert.Equal(0, events);
        Assert.Equal(410, Assert.IsType<KubernetesException>(error).Status.Code);
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
