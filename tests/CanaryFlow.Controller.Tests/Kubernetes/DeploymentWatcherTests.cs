using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;
using MassTransit.Testing;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The Deployment watch turns pod-template revisions (and nothing else) into rollout requests; Canaries
/// get conditions and Events. On the sandbox and on the real API server.</summary>
public abstract class DeploymentWatcherContract(KubeServer server) : TwoServerTest(server)
{
    protected List<RolloutRequested> Requested() =>
        Host.Get<ITestHarness>().Published.Select<RolloutRequested>().Select(m => m.Context.Message).ToList();

    protected Task RequestedCountIsAsync(int n) => KubeTestHost.EventuallyAsync(() => Task.FromResult(Requested().Count >= n), $"{n} rollout requests");

    [Fact]
    public async Task A_newly_adopted_canary_shows_Initialized_not_Succeeded_before_any_rollout()
    {
        await Host.InitializedAsync();
        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal("Initialized", (string?)status["phase"]);
        Assert.Equal(0, (int?)status["canaryWeight"]);
        var ready = (status["conditions"] as JsonArray)!.OfType<JsonObject>().Single(c => (string?)c["type"] == "Ready");
        Assert.Equal("True", (string?)ready["status"]);
        Assert.Empty(Requested());
    }

    [Fact]
    public async Task Each_pod_template_change_publishes_one_request_and_a_scale_change_none()
    {
        var target = await Host.InitializedAsync();
        Assert.Empty(Requested()); // first sight initialises, it does not roll out

        await Host.SetImageAsync("podinfo", "podinfo:2");
        await RequestedCountIsAsync(1);
        var first = await Host.RevisionAsync("podinfo");
        await Host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"spec":{"replicas":7}}""", V1Patch.PatchType.MergePatch), "podinfo", Ns);
        await Host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch("""{"metadata":{"labels":{"touched":"yes"}}}""", V1Patch.PatchType.MergePatch), "podinfo", Ns);
        await Host.SetImageAsync("podinfo", "podinfo:3");
        await RequestedCountIsAsync(2);
        var second = await Host.RevisionAsync("podinfo");

        // Events are handled in order: a request for the scale or label change would sit between the two.
        var requests = Requested();
        Assert.Equal([first, second], requests.Select(r => r.Revision));
        Assert.All(requests, r => Assert.Equal(RolloutIds.ForTarget(target), r.CorrelationId));
        Assert.Equal(RolloutIds.ForRevision(target, second), requests[1].RolloutId);
        Assert.Equal("podinfo:3", requests[1].Image);
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], requests[1].Plan.Steps);
        Assert.Equal(TimeSpan.FromSeconds(1), requests[1].Plan.AnalysisInterval);
        // The watcher publishes first and records trackedRevision after (a crash in between publishes again, and the
        // saga drops the repeat by RolloutId), so the status catches up a moment after the request: on the real
        // server that write is slow enough that reading it at once saw the first revision still.
        await KubeTestHost.EventuallyAsync(async () =>
            (string?)(await Host.GetCanaryAsync("podinfo"))["status"]!["trackedRevision"] == second, "trackedRevision is the second revision");
    }

    [Fact]
    public async Task A_release_made_while_the_stable_copy_is_made_up_is_rolled_out_and_never_recorded_as_stable()
    {
        // First sight waits for the stable copy to be available; a release pushed meanwhile is already in the target's
        // template when the initialisation records what stable serves. Recorded as stable, it was never rolled out.
        Host.FailReady("podinfo-primary");
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        var initial = await Host.RevisionAsync("podinfo");
        await Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["analysis"] = new JsonObject { ["progressDeadlineSeconds"] = 60, ["interval"] = "1s" } });
        await Host.StartWatcherAsync();
        await KubeTestHost.EventuallyAsync(async () => await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns) is var list
            && list.Items.Any(d => d.Metadata.Name == "podinfo-primary"), "the stable copy is made");
        await Host.SetImageAsync("podinfo", "podinfo:2");
        var release = await Host.RevisionAsync("podinfo");
        Assert.Null((await Host.GetCanaryAsync("podinfo"))["status"]?["stableRevision"]); // still waiting for the stable copy
        Host.FailReady("podinfo-primary", fail: false);

        await RequestedCountIsAsync(1);
        var request = Assert.Single(Requested());
        Assert.Equal(release, request.Revision);
        Assert.Equal("podinfo:2", request.Image);
        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal(initial, (string?)status["stableRevision"]);
    }

    [Fact]
    public async Task An_invalid_Canary_spec_is_reported_as_a_condition_and_a_Warning_Event()
    {
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1");
        await Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject
        {
            // Past the CRD's schema and rules; only the controller knows a custom metric needs a query.
            ["analysis"] = new JsonObject { ["metrics"] = new JsonArray(new JsonObject { ["name"] = "error-budget" }) },
        });
        await Host.StartWatcherAsync();

        await KubeTestHost.EventuallyAsync(async () => (await Host.GetCanaryAsync("podinfo"))["status"]?["conditions"] is JsonArray, "condition written");
        var ready = (await Host.GetCanaryAsync("podinfo"))["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        Assert.Equal("False", (string?)ready["status"]);
        Assert.Equal("InvalidSpec", (string?)ready["reason"]);
        Assert.Contains("\"error-budget\" is not a built-in metric", (string?)ready["message"]);
        await KubeTestHost.EventuallyAsync(async () => (await Host.Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
            .Any(e => e.Reason == "InvalidSpec" && e.Type == "Warning" && e.InvolvedObject.Name == "podinfo"), "Warning Event");
        Assert.Null(await Host.Get<CanaryFlow.Controller.Kubernetes.Workloads.Deployments>().TryReadAsync(Ns, "podinfo-primary", default));
    }

    [Fact]
    public async Task A_malformed_Canary_is_refused_at_admission_as_by_the_real_API_server()
    {
        await Host.CreateDeploymentAsync("broken", "broken:1");
        var refused = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() =>
            Host.CreateCanaryAsync("broken", "broken", new JsonObject { ["service"] = new JsonObject { ["port"] = "eighty" } }));
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("spec.service.port", refused.Response.Content);
    }

    [Fact]
    public async Task An_invalid_Canary_the_schema_admits_is_reported_and_does_not_stop_the_others()
    {
        await Host.CreateDeploymentAsync("broken", "broken:1");
        await Host.CreateCanaryAsync("broken", "broken", new JsonObject
        {
            ["analysis"] = new JsonObject { ["stepWeight"] = 50, ["approval"] = new JsonObject { ["atWeights"] = new JsonArray(15) } },
        });

        await Host.InitializedAsync(); // a valid Canary beside it is still initialised

        await KubeTestHost.EventuallyAsync(async () => (await Host.GetCanaryAsync("broken"))["status"]?["conditions"] is JsonArray, "condition written");
        var ready = (await Host.GetCanaryAsync("broken"))["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        Assert.Equal("InvalidSpec", (string?)ready["reason"]);
        Assert.Contains("15 is not one of the steps", (string?)ready["message"]);
    }

    [Fact]
    public async Task Every_transition_becomes_a_Kubernetes_Event_on_the_Canary()
    {
        var target = await Host.InitializedAsync();
        var harness = Host.Get<ITestHarness>();
        await harness.Bus.Publish(new RolloutTransitioned(RolloutIds.ForTarget(target), Guid.NewGuid(), target, "abc", "def",
            RolloutPhases.Progressing, RolloutPhases.RollingBack, 20, 0, 1, 10, 3, 0, "3 failed checks", null, 4, DateTimeOffset.UtcNow));

        await KubeTestHost.EventuallyAsync(async () => (await Host.Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
            .Any(e => e.Reason == RolloutPhases.RollingBack), "RollingBack Event");
        var ev = (await Host.Client.CoreV1.ListNamespacedEventAsync(Ns)).Items.Single(e => e.Reason == RolloutPhases.RollingBack);
        Assert.Equal("Warning", ev.Type);
        Assert.Equal("Canary", ev.InvolvedObject.Kind);
        Assert.Equal(((string?)(await Host.GetCanaryAsync("podinfo"))["metadata"]!["uid"]), ev.InvolvedObject.Uid);
        Assert.Equal(Ns, ev.InvolvedObject.NamespaceProperty);
        Assert.Equal("canaryflow.dev/controller", ev.ReportingComponent);
        Assert.Equal("canaryflow", ev.Source.Component);
        Assert.Contains("Progressing -> RollingBack", ev.Message);
        Assert.Contains("3 failed checks", ev.Message);
    }

    [Fact]
    public async Task A_watch_resumed_from_a_compacted_resourceVersion_gets_410_Gone_then_relists_and_goes_on()
    {
        // Events: the real server serves their watches from etcd (no watch cache), so compaction makes it answer 410.
        var stale = (await Host.CreateEventAsync("first")).Metadata.ResourceVersion; // a list taken then, resumed later
        await Host.CreateEventAsync("second");
        // Compaction at the current revision keeps that revision's change (a watch from just before it is served): a
        // third change makes "first" too old on both servers.
        await Host.CreateEventAsync("third");
        await Host.CompactAsync();
        var listed = new List<IReadOnlyList<string>>();
        using var log = new CanaryFlow.Controller.Tests.ChatOps.CapturingLoggerProvider();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var watch = new ResilientWatch<Corev1Event>("events",
            async ct =>
            {
                if (listed.Count == 0) return ([], stale);
                var list = await Host.Client.CoreV1.ListNamespacedEventAsync(Ns, cancellationToken: ct);
                return (list.Items.ToList(), list.Metadata.ResourceVersion);
            },
            (rv, onError, ct) => Host.Client.CoreV1.WatchListNamespacedEventAsync(Ns, resourceVersion: rv, onError: onError, cancellationToken: ct),
            e => e.Metadata.ResourceVersion, TimeProvider.System, TimeSpan.FromMilliseconds(500), log.CreateLogger("events watch"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var running = watch.RunAsync(items => { listed.Add(items.Select(e => e.Metadata.Name).Order().ToList()); return Task.CompletedTask; },
            (type, e) => { seen.Enqueue($"{type} {e.Metadata.Name}"); return Task.CompletedTask; }, stop.Token);
        try { await KubeTestHost.EventuallyAsync(() => Task.FromResult(listed.Count >= 2), "relisted after 410 Gone"); }
        catch (Xunit.Sdk.XunitException e) { throw new Xunit.Sdk.XunitException($"{e.Message}; lists {watch.Lists}; log:\n{log.All}"); }
        await Host.CreateEventAsync("fourth");
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(seen.Contains("Added fourth")), "the event after the relist");
        await stop.CancelAsync();
        await running;

        Assert.Equal(2, watch.Lists);
        Assert.Equal(["first", "second", "third"], listed[1]);
        Assert.DoesNotContain("Added first", seen); // the relist had it: no replay
    }

}

/// <summary>The watch on the sandbox, plus what only the sandbox can do to it (drop streams, compact, inject 500s).</summary>
public sealed class DeploymentWatcherOnSandbox() : DeploymentWatcherContract(KubeServer.Sandbox)
{
    [Fact]
    public async Task Releases_made_the_moment_each_Canary_is_initialised_are_each_requested_and_never_recorded_as_stable()
    {
        // As the scale benchmark releases: each target the moment its Canary shows a stable revision. The watch's Canary
        // stream can then be behind its Deployment stream (a cached copy without the tracked revision); initialising such
        // a Canary again read the release's template and recorded it as stable, so it was never rolled out.
        const int count = 24;
        var names = Enumerable.Range(0, count).Select(i => $"svc-{i:D2}").ToList();
        foreach (var name in names)
        {
            await Host.CreateDeploymentAsync(name, $"{name}:1", replicas: 1);
            await Host.CreateCanaryAsync(name, name);
        }
        var stable = new Dictionary<string, string>();
        await Host.StartWatcherAsync();
        await KubeTestHost.EventuallyAsync(async () =>
        {
            foreach (var name in names.Where(n => !stable.ContainsKey(n)))
                if ((string?)(await Host.GetCanaryAsync(name))["status"]?["stableRevision"] is { } revision)
                {
                    stable[name] = revision;
                    await Host.SetImageAsync(name, $"{name}:2");
                }
            return stable.Count == count;
        }, "every Canary initialised and released", seconds: 60);

        await RequestedCountIsAsync(count);
        foreach (var name in names)
        {
            var release = await Host.RevisionAsync(name);
            Assert.NotEqual(stable[name], release);
            Assert.Equal(stable[name], (string?)(await Host.GetCanaryAsync(name))["status"]!["stableRevision"]);
            Assert.Single(Requested(), r => r.Target.Name == name && r.Revision == release);
        }
    }

    [Fact]
    public async Task A_target_copy_older_than_the_tracked_revision_never_requests_the_stable_revision_again()
    {
        // As after a partition moved: the previous owner requested the release and recorded it on the Canary, while this
        // replica's Deployment stream lags behind its Canary stream. Its copy of the target still has the stable template,
        // which differs from the tracked revision; requested, the stable revision superseded the release under way, and
        // the rollout ended Failed with "canary runs revision X, not Y" (issue 15's kill run: 2 of 1,000).
        await Host.InitializedAsync();
        var stable = await Host.RevisionAsync("podinfo");
        // The Deployment watch cannot list or watch (404s: neither retried nor counted by the circuit breaker), while the
        // Canary watch goes on; reads of the target itself are answered.
        Host.Sandbox.Faults.Add(new Fault(404, 100_000, Method: "GET", PathEndsWith: "/deployments"));
        Host.Sandbox.Store.DropWatches();
        await Host.SetImageAsync("podinfo", "podinfo:2");
        var release = await Host.RevisionAsync("podinfo");
        await Host.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(
            new JsonObject { ["status"] = new JsonObject { ["trackedRevision"] = release } }.ToJsonString(), V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");
        // The Canary's change is looked at against the stale copy (and again at each periodic look) while the watch is held.
        var held = Host.Sandbox.Faults.Injected;
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(Host.Sandbox.Faults.Injected >= held + 10), "the Deployment watch held for 10 tries");
        Host.Sandbox.Faults.Clear();

        await Host.SetImageAsync("podinfo", "podinfo:3");
        var next = await Host.RevisionAsync("podinfo");
        await RequestedCountIsAsync(1);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(Requested().Any(r => r.Revision == next)), "the next release requested");
        Assert.DoesNotContain(Requested(), r => r.Revision == stable);
        Assert.Equal([next], Requested().Select(r => r.Revision));
    }

    [Fact]
    public async Task Dropped_watches_and_a_410_Gone_are_survived_by_relisting()
    {
        await Host.InitializedAsync();
        Host.Sandbox.Faults.Add(new Fault(500, 2, Method: "GET", PathContains: "/deployments"));
        for (var i = 0; i < 3; i++) Host.Sandbox.Store.DropWatches();
        // Something changes while the watch is away, then history is compacted: the version it resumes from is too old.
        // (two changes: compaction keeps the latest one, so a watch from just before it would still be served)
        foreach (var meanwhile in new[] { "meanwhile-1", "meanwhile-2" })
            Host.Sandbox.Store.Create(ResourceKinds.Leases, Ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = meanwhile }, ["spec"] = new JsonObject() });
        Host.Sandbox.Store.Compact();

        await Host.SetImageAsync("podinfo", "podinfo:2");
        await RequestedCountIsAsync(1);
        Assert.Equal(await Host.RevisionAsync("podinfo"), Assert.Single(Requested()).Revision);
        Assert.True(Host.Sandbox.Store.ExpiredWatches >= 1, "the resumed watch met 410 Gone and relisted");

        Host.Sandbox.Store.DropWatches();
        await Host.SetImageAsync("podinfo", "podinfo:3");
        await RequestedCountIsAsync(2);
        Assert.Equal(2, Requested().Count);
    }
}

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class DeploymentWatcherOnRealServer() : DeploymentWatcherContract(KubeServer.Real);
