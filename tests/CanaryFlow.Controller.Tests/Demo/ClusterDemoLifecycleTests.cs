using System.Net.Http.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Kubernetes;
using CanaryFlow.Demo.Cluster;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Kubernetes;
using Microsoft.Extensions.DependencyInjection;
using static CanaryFlow.Controller.Tests.Demo.SandboxCluster;

namespace CanaryFlow.Controller.Tests.Demo;

/// <summary>
/// The cluster mode with its controller running (in this process, leader election on) against the sandbox API
/// server taken as a cluster: initialisation, a release with no Istio telemetry at all, and cleanup.
/// </summary>
public sealed class ClusterDemoLifecycleTests(EmptyPrometheus prometheus) : IClassFixture<EmptyPrometheus>
{
    private static Task<DemoController> StartControllerAsync(ClusterDemo demo) =>
        demo.StartControllerAsync(Directory.CreateTempSubdirectory("canaryflow-cluster-demo-").FullName,
            services => services.AddSingleton(TestLogging.Shared), Bounded());

    [Fact]
    public async Task The_controller_initialises_every_canary_and_without_telemetry_a_release_never_passes_the_first_step()
    {
        await using var sandbox = await StartAsync();
        var options = Options(sandbox, prometheus.Process);
        using var demo = new ClusterDemo(options);
        await demo.PreflightAsync(Bounded());
        await demo.ApplyAsync(Bounded());
        await using var controller = await StartControllerAsync(demo);

        await demo.WaitInitializedAsync(Bounded());

        foreach (var story in Stories)
        {
            var primary = Find(sandbox, ResourceKinds.Deployments, Ns, story.Name + WorkloadNames.StableSuffix)!;
            Assert.Equal(ClusterManifests.StableImage, (string?)Container(primary)["image"]);
            Assert.Equal(0, (int?)Find(sandbox, ResourceKinds.Deployments, Ns, story.Name)!["spec"]!["replicas"]); // the canary waits, scaled down
            Assert.NotNull(Find(sandbox, ResourceKinds.DestinationRules, Ns, story.Name));
            Assert.Equal(new Seams.TrafficWeights(100, 0), CanaryWeights(sandbox, story.Name));
            Assert.Equal(CanaryFlow.Controller.Kubernetes.Status.CanaryStatusView.Initialized, (string?)Find(sandbox, ResourceKinds.Canaries, Ns, story.Name)!["status"]!["phase"]); // no rollout yet
        }
        var lease = Find(sandbox, ResourceKinds.Leases, Ns, ClusterObjects.LeaseName)!; // it acted as the elected leader
        Assert.False(string.IsNullOrEmpty((string?)lease["spec"]!["holderIdentity"]));

        Assert.False(await demo.WaitForTelemetryAsync(Bounded()));
        await demo.Objects.ReleaseAsync(Bounded());

        // Follow every rollout until the analysis has judged it "no data" three times, watching the weight all along.
        var firstStep = options.Tuning.StepWeight;
        var highest = 0;
        var noData = Stories.ToDictionary(s => s.Name, _ => new HashSet<DateTimeOffset>());
        List<RolloutStatusView> views = [];
        await KubeTestHost.EventuallyAsync(async () =>
        {
            views = await controller.Api.GetFromJsonAsync<List<RolloutStatusView>>("api/rollouts") ?? [];
            foreach (var v in views)
            {
                highest = Math.Max(highest, Math.Max(v.CanaryWeight, v.DesiredWeight));
                highest = Math.Max(highest, CanaryWeights(sandbox, v.Target.Name).Canary);
                if (v.LastReason.Contains("inconclusive (NoData)")) noData[v.Target.Name].Add(v.LastTransitionAt);
            }
            return noData.Values.All(checks => checks.Count >= 3);
        }, "three no-data checks on every rollout", seconds: 60);

        Assert.InRange(highest, 1, firstStep); // it did move to the first step, and never beyond
        Assert.All(views, v => Assert.Equal(RolloutPhases.Progressing, v.Phase));
        Assert.All(views, v => Assert.All(v.LastAnalysis!.Metrics, m => Assert.Equal("nodata", m.Outcome)));
    }

    [Fact]
    public async Task Cleanup_deletes_the_namespace_it_created_with_everything_the_demo_and_the_controller_put_in_it()
    {
        await using var sandbox = await StartAsync();
        using var demo = new ClusterDemo(Options(sandbox, prometheus.Process));
        await demo.ApplyAsync(Bounded());
        await using (await StartControllerAsync(demo)) await demo.WaitInitializedAsync(Bounded());

        Assert.Empty(await demo.Objects.CleanupAsync(Bounded()));

        Assert.Null(Find(sandbox, ResourceKinds.Namespaces, "", Ns));
        Assert.All(ResourceKinds.All.Where(k => k.Namespaced), kind => Assert.Empty(Names(sandbox, kind, Ns)));
    }

    [Fact]
    public async Task Cleanup_in_a_namespace_the_user_had_removes_only_the_demo_and_turns_sidecar_injection_off_again()
    {
        await using var sandbox = await StartAsync();
        sandbox.Store.Create(ResourceKinds.Namespaces, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = Ns } });
        sandbox.Store.Create(ResourceKinds.Services, Ns, JsonNode.Parse("""{ "metadata": { "name": "users-own" }, "spec": { "ports": [ { "port": 80 } ] } }""")!.AsObject());
        using var demo = new ClusterDemo(Options(sandbox, prometheus.Process));
        await demo.ApplyAsync(Bounded());
        Assert.Equal("enabled", (string?)Find(sandbox, ResourceKinds.Namespaces, "", Ns)!["metadata"]!["labels"]!["istio-injection"]);
        await using (await StartControllerAsync(demo)) await demo.WaitInitializedAsync(Bounded());

        Assert.Empty(await demo.Objects.CleanupAsync(Bounded()));

        var ns = Find(sandbox, ResourceKinds.Namespaces, "", Ns)!;
        Assert.Null(ns["metadata"]!["labels"]!["istio-injection"]);
        Assert.Equal(["users-own"], Names(sandbox, ResourceKinds.Services, Ns));
        // Events on the deleted Canaries stay, as on a cluster, until the API server's event TTL removes them.
        Assert.All(ResourceKinds.All.Where(k => k.Namespaced && k != ResourceKinds.Services && k.Kind != "Event"),
            kind => Assert.Empty(Names(sandbox, kind, Ns)));
    }

    [Fact]
    public async Task The_whole_command_on_a_cluster_without_telemetry_ends_at_its_time_limit_with_exit_code_1_and_cleans_up()
    {
        await using var sandbox = await StartAsync();
        var options = Options(sandbox, prometheus.Process) with { Timeout = TimeSpan.FromSeconds(10) };

        var code = await ClusterDemoCommand.RunAsync(options, services => services.AddSingleton(TestLogging.Shared));

        Assert.Equal(1, code); // no release could pass on "no data": each is reported as timed out
        Assert.Null(Find(sandbox, ResourceKinds.Namespaces, "", Ns));
        Assert.All(ResourceKinds.All.Where(k => k.Namespaced), kind => Assert.Empty(Names(sandbox, kind, Ns)));
    }

    private static Seams.TrafficWeights CanaryWeights(SandboxKubernetesServer sandbox, string name) =>
        Find(sandbox, ResourceKinds.VirtualServices, Ns, name) is { } vs ? VirtualServiceRoutes.Read(vs, name, Ns) ?? default : default;
}
