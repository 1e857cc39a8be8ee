using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Observability;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// The user's reference setup (manifests/examples/checkout-service.yaml: a DestinationRule with subsets v1/v2
/// and ISTIO_MUTUAL, a VirtualService splitting 90/10 between them) loaded into the sandbox as written and
/// adopted by the example's own Canary: only route weights and the two subsets' labels ever change.
/// </summary>
public abstract class SubsetAdoptionContract(KubeServer server) : TwoServerTest(server)
{
    private const string Track = "canaryflow.dev/track";
    private static readonly RouteSubsets VersionSubsets = new("v1", "v2");

    private RolloutTarget Checkout => new(Ns, "checkout-service");
    protected IWorkloadController Workloads => Host.Get<IWorkloadController>();
    protected ITrafficRouter Router => Host.Get<ITrafficRouter>();

    [Fact]
    public async Task The_example_v1_v2_objects_are_adopted_and_a_full_rollout_changes_only_route_weights_and_subset_labels()
    {
        var (ruleBefore, vsBefore) = await LoadExampleAsync();
        await InitializedAsync("checkout-service");

        // First sight: all traffic to v1, and v1/v2 now select the stable/canary pods.
        Assert.Equal(new TrafficWeights(100, 0), await Router.GetWeightsAsync(Checkout, default));
        Assert.Equal(SubsetLabels(), Normalised(await GetAsync(Istio.DestinationRules, "checkout-service"))["spec"]!["subsets"]!
            .AsArray().Select(s => s!["labels"]!.ToJsonString()));
        var seen = new ConcurrentQueue<int>();
        using var stop = new CancellationTokenSource();
        var watching = Host.WatchCanaryWeightsAsync("checkout-service", seen, stop.Token, Ns, VersionSubsets);
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(!seen.IsEmpty), "the weight watcher is connected");

        await Host.SetImageAsync("checkout-service", "registry.example.com/shop/checkout-service:1.5.0", Ns);
        var revision = await Host.RevisionAsync("checkout-service", Ns);
        Assert.True((await Workloads.PrepareUntilDoneAsync(Checkout, revision, default)).Succeeded);
        for (var weight = 10; weight <= 100; weight += 10) await Router.SetWeightsAsync(Checkout, weight, default);
        Assert.True((await Workloads.PromoteUntilDoneAsync(Checkout, revision, default)).Succeeded);
        await Router.SetWeightsAsync(Checkout, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(Checkout, default);

        await KubeTestHost.EventuallyAsync(() => Task.FromResult(seen.LastOrDefault(-1) == 0 && seen.Count >= 12), "watcher saw the final weights");
        await stop.CancelAsync();
        await watching;
        Assert.Equal([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0], seen.ToArray());
        Assert.Equal("registry.example.com/shop/checkout-service:1.5.0", (await ReadDeploymentAsync("checkout-service-primary")).Spec.Template.Spec.Containers[0].Image);
        await AssertOnlyWeightsAndSubsetLabelsChangedAsync(ruleBefore, vsBefore, stableWeight: 100);
    }

    [Fact]
    public async Task A_rollback_on_adopted_v1_v2_subsets_leaves_all_traffic_on_v1_and_the_canary_at_zero()
    {
        var (ruleBefore, vsBefore) = await LoadExampleAsync();
        await InitializedAsync("checkout-service");
        await RollBackAsync(ruleBefore, vsBefore);
    }

    protected async Task RollBackAsync(JsonObject ruleBefore, JsonObject vsBefore)
    {
        await Host.SetImageAsync("checkout-service", "registry.example.com/shop/checkout-service:bad", Ns);
        Assert.True((await Workloads.PrepareUntilDoneAsync(Checkout, await Host.RevisionAsync("checkout-service", Ns), default)).Succeeded);
        await Router.SetWeightsAsync(Checkout, 30, default);

        var before = await Router.SetWeightsAsync(Checkout, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(Checkout, default);

        Assert.Equal(new TrafficWeights(70, 30), before);
        Assert.Equal(0, (await ReadDeploymentAsync("checkout-service")).Spec.Replicas);
        Assert.Equal("registry.example.com/shop/checkout-service:1.4.0", (await ReadDeploymentAsync("checkout-service-primary")).Spec.Template.Spec.Containers[0].Image);
        await AssertOnlyWeightsAndSubsetLabelsChangedAsync(ruleBefore, vsBefore, stableWeight: 100);
    }

    [Fact]
    public async Task A_missing_subset_is_an_invalid_spec_with_a_condition_and_an_event_and_other_rollouts_go_on()
    {
        var (ruleBefore, vsBefore) = await LoadExampleAsync(rule => rule["spec"]!["subsets"]!.AsArray().RemoveAt(1));
        await Host.CreateDeploymentAsync("podinfo", "podinfo:1", ns: Ns);
        await Host.CreateCanaryAsync("podinfo", "podinfo", ns: Ns);
        await InitializedAsync("podinfo");

        await KubeTestHost.EventuallyAsync(async () => ReadyReason(await GetCanaryAsync("checkout-service")) == "InvalidSpec",
            "the checkout Canary reported InvalidSpec");
        var ready = Ready(await GetCanaryAsync("checkout-service"))!;
        Assert.Equal("False", (string?)ready["status"]);
        Assert.Equal($"DestinationRule {Ns}/checkout-service has no subset named 'v2'", (string?)ready["message"]);
        var events = await Host.Client.CoreV1.ListNamespacedEventAsync(Ns);
        var warning = Assert.Single(events.Items, e => e.InvolvedObject.Name == "checkout-service" && e.Reason == "InvalidSpec");
        Assert.Equal("Warning", warning.Type);
        Assert.Contains("'v2'", warning.Message);

        // Nothing of checkout's was touched: no stable copy, the user's objects as they were (90/10 included).
        Assert.Null((await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.FirstOrDefault(d => d.Metadata.Name == "checkout-service-primary"));
        Assert.Equal(ruleBefore.ToJsonString(), (await GetAsync(Istio.DestinationRules, "checkout-service")).ToJsonString());
        Assert.Equal(vsBefore.ToJsonString(), (await GetAsync(Istio.VirtualServices, "checkout-service")).ToJsonString());
        Assert.Equal(new TrafficWeights(90, 10), VirtualServiceRoutes.Read(vsBefore, "checkout-service", Ns, VersionSubsets));

        // The other Canary in the namespace rolls out as usual.
        var podinfo = new RolloutTarget(Ns, "podinfo");
        await Host.SetImageAsync("podinfo", "podinfo:2", Ns);
        Assert.True((await Workloads.PrepareUntilDoneAsync(podinfo, await Host.RevisionAsync("podinfo", Ns), default)).Succeeded);
        await Router.SetWeightsAsync(podinfo, 20, default);
        Assert.Equal(new TrafficWeights(80, 20), await Router.GetWeightsAsync(podinfo, default));
        // And a rollout of the invalid one fails with the reason, without touching traffic.
        var refused = await Workloads.PrepareCanaryAsync(Checkout, await Host.RevisionAsync("checkout-service", Ns), default);
        Assert.False(refused.Succeeded);
        Assert.Contains("no subset named 'v2'", refused.Reason);
    }

    [Fact]
    public async Task A_DestinationRule_of_the_users_with_the_targets_name_is_not_taken_over_unless_the_Canary_names_it()
    {
        // The example's rule is named as the target (checkout-service), which is the name CanaryFlow gives its own.
        var (ruleBefore, _) = await LoadExampleAsync(editCanary: canary => canary["spec"]!.AsObject().Remove("destinationRule"));
        await Host.StartWatcherAsync();

        await KubeTestHost.EventuallyAsync(async () => ReadyReason(await GetCanaryAsync("checkout-service")) == "InvalidSpec", "InvalidSpec reported");
        Assert.Contains("name it in spec.destinationRule to adopt it", (string?)Ready(await GetCanaryAsync("checkout-service"))!["message"]);
        Assert.Equal(ruleBefore.ToJsonString(), (await GetAsync(Istio.DestinationRules, "checkout-service")).ToJsonString());
    }

    [Fact]
    public async Task Deleting_a_Canary_that_adopted_v1_v2_leaves_the_v1_subset_selecting_the_target_with_all_traffic()
    {
        var (_, vsBefore) = await LoadExampleAsync();
        await InitializedAsync("checkout-service");
        await Host.SetImageAsync("checkout-service", "registry.example.com/shop/checkout-service:1.5.0", Ns);
        var revision = await Host.RevisionAsync("checkout-service", Ns);
        Assert.True((await Workloads.PrepareUntilDoneAsync(Checkout, revision, default)).Succeeded);
        await Router.SetWeightsAsync(Checkout, 50, default);
        Assert.True((await Workloads.PromoteUntilDoneAsync(Checkout, revision, default)).Succeeded);
        await Router.SetWeightsAsync(Checkout, 0, default);
        await Workloads.ScaleCanaryToZeroAsync(Checkout, default);

        await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "checkout-service");

        await KubeTestHost.EventuallyAsync(async () =>
            (await Host.Client.CustomObjects.ListNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural)) is var list
            && CanaryApi.ToNode(list)?["items"]?.AsArray().Count == 0, "the Canary is gone");
        Assert.Null((await Host.Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.FirstOrDefault(d => d.Metadata.Name == "checkout-service-primary"));
        var target = await ReadDeploymentAsync("checkout-service");
        Assert.Equal("registry.example.com/shop/checkout-service:1.5.0", target.Spec.Template.Spec.Containers[0].Image);
        Assert.True(target.Spec.Replicas > 0);
        Assert.Equal(target.Spec.Replicas, target.Status.AvailableReplicas);
        // The user's rule stays, re-pointed at the track label; the target keeps "track: stable", so v1, which now
        // takes all the traffic, still reaches pods (restoring "version: v1" would select none of them).
        var v1 = (await GetAsync(Istio.DestinationRules, "checkout-service"))["spec"]!["subsets"]!.AsArray().Single(s => (string?)s!["name"] == "v1")!;
        Assert.All(v1["labels"]!.AsObject(), l => Assert.Equal((string?)l.Value, target.Spec.Template.Metadata.Labels[l.Key]));
        var vs = await GetAsync(Istio.VirtualServices, "checkout-service");
        Assert.Equal(new TrafficWeights(100, 0), VirtualServiceRoutes.Read(vs, "checkout-service", Ns, VersionSubsets));
        Assert.Equal(vsBefore["spec"]!["hosts"]!.ToJsonString(), vs["spec"]!["hosts"]!.ToJsonString());
    }

    /// <summary>Creates the example's Deployment, Service, DestinationRule, VirtualService and Canary as written
    /// (the kinds the sandbox serves); returns the rule and the VirtualService as the server stored them.</summary>
    protected async Task<(JsonObject Rule, JsonObject VirtualService)> LoadExampleAsync(Action<JsonObject>? editRule = null, Action<JsonObject>? editCanary = null)
    {
        var file = Path.Combine(RepositoryRoot.Path, "manifests", "examples", "checkout-service.yaml");
        // The example's namespace is "shop"; each test has its own.
        var yaml = (await File.ReadAllTextAsync(file)).Replace("namespace: shop", $"namespace: {Ns}").Replace("checkout-service.shop.svc", $"checkout-service.{Ns}.svc");
        var docs = RenderedManifests.Split("checkout-service.yaml", yaml);
        await Host.Client.AppsV1.CreateNamespacedDeploymentAsync(KubernetesYaml.Deserialize<V1Deployment>(docs.Single(d => d.Kind == "Deployment").Yaml), Ns);
        await Host.Client.CoreV1.CreateNamespacedServiceAsync(KubernetesYaml.Deserialize<V1Service>(docs.Single(d => d.Kind == "Service").Yaml), Ns);
        var rule = docs.Single(d => d.Kind == "DestinationRule").Json;
        editRule?.Invoke(rule);
        await Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(rule, Istio.Group, Istio.Version, Ns, Istio.DestinationRules);
        await Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(docs.Single(d => d.Kind == "VirtualService").Json, Istio.Group, Istio.Version, Ns, Istio.VirtualServices);
        var canary = docs.Single(d => d.Kind == "Canary").Json;
        editCanary?.Invoke(canary);
        await Host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(canary, CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural);
        return (await GetAsync(Istio.DestinationRules, "checkout-service"), await GetAsync(Istio.VirtualServices, "checkout-service"));
    }

    /// <summary>The adopted objects equal what they were, except the v1/v2 route weights and the v1/v2 subset labels.</summary>
    private async Task AssertOnlyWeightsAndSubsetLabelsChangedAsync(JsonObject ruleBefore, JsonObject vsBefore, int stableWeight)
    {
        var expectedRule = Normalised(ruleBefore);
        foreach (var (subset, labels) in expectedRule["spec"]!["subsets"]!.AsArray().Zip(SubsetLabels())) subset!["labels"] = JsonNode.Parse(labels);
        Assert.Equal(expectedRule.ToJsonString(), Normalised(await GetAsync(Istio.DestinationRules, "checkout-service")).ToJsonString());
        Assert.Equal("ISTIO_MUTUAL", (string?)expectedRule["spec"]!["trafficPolicy"]!["tls"]!["mode"]);

        var expectedVs = Normalised(vsBefore);
        var route = expectedVs["spec"]!["http"]![0]!["route"]!;
        (route[0]!["weight"], route[1]!["weight"]) = (stableWeight, 100 - stableWeight);
        Assert.Equal(expectedVs.ToJsonString(), Normalised(await GetAsync(Istio.VirtualServices, "checkout-service")).ToJsonString());
    }

    private static IEnumerable<string> SubsetLabels() =>
        [new JsonObject { [Track] = "stable" }.ToJsonString(), new JsonObject { [Track] = "canary" }.ToJsonString()];

    // What the server changes on every write (the version, the spec's generation, its managedFields), removed for comparison.
    private static JsonObject Normalised(JsonObject obj)
    {
        var copy = obj.DeepClone().AsObject();
        copy["metadata"]!.AsObject().Remove("resourceVersion");
        copy["metadata"]!.AsObject().Remove("generation");
        copy["metadata"]!.AsObject().Remove("managedFields"); // the real server's record of who wrote what, and when
        return copy;
    }

    protected async Task InitializedAsync(string canary)
    {
        await Host.StartWatcherAsync();
        await KubeTestHost.EventuallyAsync(async () =>
            (await GetCanaryAsync(canary))["status"]?["trackedRevision"] is not null, $"{canary} initialised");
    }

    private static JsonObject? Ready(JsonObject canary) =>
        (canary["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == "Ready");

    private static string? ReadyReason(JsonObject canary) => (string?)Ready(canary)?["reason"];

    private Task<JsonObject> GetAsync(string plural, string name) => Host.GetCustomAsync(plural, name, ns: Ns);

    private Task<JsonObject> GetCanaryAsync(string name) => Host.GetCanaryAsync(name, Ns);

    private Task<V1Deployment> ReadDeploymentAsync(string name) => Host.Client.AppsV1.ReadNamespacedDeploymentAsync(name, Ns);
}

/// <summary>Adoption on the sandbox, plus a conflict only the sandbox can inject at the right moment.</summary>
public sealed class SubsetAdoptionOnSandbox() : SubsetAdoptionContract(KubeServer.Sandbox)
{
    [Fact]
    public async Task Adoption_raced_by_another_writer_of_the_DestinationRule_re_reads_and_still_rolls_back_cleanly()
    {
        var (ruleBefore, vsBefore) = await LoadExampleAsync();
        // The rule changed by someone else while CanaryFlow re-points its subsets: 409, re-read, patch again.
        Host.Sandbox.Faults.Add(new CanaryFlow.Sandbox.Kubernetes.Fault(409, 1, Method: "PATCH", PathContains: "/destinationrules/"));
        await InitializedAsync("checkout-service");
        Assert.Equal(1, Host.Sandbox.Faults.Injected);
        await RollBackAsync(ruleBefore, vsBefore);
    }
}

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class SubsetAdoptionOnRealServer() : SubsetAdoptionContract(KubeServer.Real);

/// <summary>The adopted DestinationRule's checks and patch, on raw JSON.</summary>
public sealed class DestinationRuleSubsetsTests
{
    private static CanaryContext Context() => CanaryContext.From(CanaryResource.FromObject(JsonNode.Parse("""
        {"metadata":{"name":"checkout","namespace":"shop"},"spec":{"targetRef":{"name":"checkout"},"service":{"port":80},
         "virtualService":{"name":"checkout","stableSubset":"v1","canarySubset":"v2"},"destinationRule":{"name":"checkout-dr"}}}
        """)!), "canaryflow.dev/track");

    private static JsonObject Rule(string host, string subsets) =>
        new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "checkout-dr", ["resourceVersion"] = "7" },
            ["spec"] = new JsonObject { ["host"] = host, ["subsets"] = JsonNode.Parse(subsets) },
        };

    [Theory]
    [InlineData(null, "DestinationRule shop/checkout-dr does not exist")]
    [InlineData("other.shop.svc.cluster.local", "is for host 'other.shop.svc.cluster.local', not service checkout")]
    [InlineData("checkout.shop", null)]
    public void An_adopted_rule_must_exist_and_be_for_the_service(string? host, string? problem)
    {
        var rule = host is null ? null : Rule(host, """[{"name":"v1"},{"name":"v2"}]""");
        if (problem is null) Assert.Null(DestinationRuleSubsets.Problem(Context(), rule));
        else Assert.Contains(problem, DestinationRuleSubsets.Problem(Context(), rule));
    }

    [Fact]
    public void The_patch_replaces_only_the_labels_of_subsets_that_do_not_select_their_track_yet_and_is_conditional()
    {
        var rule = Rule("checkout", """[{"name":"v0","labels":{"version":"v0"}},{"name":"v2","labels":{"canaryflow.dev/track":"canary"}},{"name":"v1","labels":{"version":"v1"}}]""");

        var patch = DestinationRuleSubsets.LabelPatch(Context(), rule)!;

        Assert.Equal("""[{"op":"replace","path":"/metadata/resourceVersion","value":"7"},{"op":"add","path":"/spec/subsets/2/labels","value":{"canaryflow.dev/track":"stable"}}]""",
            patch.ToJsonString());
        rule["spec"]!["subsets"]![2]!["labels"] = new JsonObject { ["canaryflow.dev/track"] = "stable" };
        Assert.Null(DestinationRuleSubsets.LabelPatch(Context(), rule));
    }
}
