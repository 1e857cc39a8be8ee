using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>Issue 15: what a sharded replica reads of every watch event (a <see cref="Sighting"/>), and what it keeps of
/// its own partitions' objects; and the garbage collector the built controller runs.</summary>
public sealed class WatchSightingTests
{
    private const string State = """{"CorrelationId":"00000000-0000-0000-0000-000000000001","Version":7}""";

    /// <summary>A list page of two Canaries, as the client parses it (one JsonElement for the whole page).</summary>
    private static JsonElement Page() => JsonSerializer.Deserialize<JsonElement>("""
        {"metadata":{"resourceVersion":"90"},"items":[
          {"metadata":{"name":"alpha","namespace":"ns","resourceVersion":"41","generation":2},
           "spec":{"targetRef":{"name":"alpha-app"},"service":{"port":80}},
           "status":{"phase":"Progressing","canaryWeight":50,"currentStep":2,"canaryRevision":"r2","lastTransitionTime":"2026-12-02T03:00:00Z",
                     "trackedRevision":"r2","rolloutState":STATE,
                     "conditions":[{"type":"Holding","status":"True","lastTransitionTime":"2026-12-02T02:59:00Z"}]}},
          {"metadata":{"name":"beta","namespace":"ns","resourceVersion":"42"},"spec":{"service":{"port":80}}}]}
        """.Replace("STATE", JsonSerializer.Serialize(State)));

    [Fact]
    public void Every_replica_reads_name_version_target_and_status_of_an_event_without_parsing_it_further()
    {
        var items = Page().GetProperty("items").EnumerateArray().Select(i => new Sighting(i)).ToList();

        Assert.Equal(("alpha", (string?)"41", "alpha-app"), (items[0].Name, items[0].ResourceVersion, items[0].TargetName));
        Assert.Equal(("beta", (string?)"42", ""), (items[1].Name, items[1].ResourceVersion, items[1].TargetName)); // no target: none
        Assert.Equal("Progressing", items[0].Status!.Value.GetProperty("phase").GetString());
        Assert.Null(items[1].Status);
        Assert.Equal("", new Sighting(JsonSerializer.Deserialize<JsonElement>("""{"kind":"Status"}""")).Name); // a watch ERROR's object
    }

    [Fact]
    public void A_kept_Canary_is_copied_out_of_its_page_without_its_saga_state_and_with_everything_else()
    {
        var canary = new Sighting(Page().GetProperty("items")[0]).ToCanary();

        Assert.Equal(("alpha", "alpha-app", "41", (long?)2), (canary.Name, canary.TargetName, canary.Metadata.ResourceVersion, canary.Metadata.Generation));
        Assert.Equal(80, canary.Spec!.Service!.Port);
        var status = canary.Status!;
        Assert.Null(status[CanaryStatusRolloutStore.StateField]); // the store's business, and the bulk of a Canary
        Assert.Equal("r2", canary.StatusString(DeploymentWatcher.TrackedRevisionField));
        Assert.Equal(50, (int?)status["canaryWeight"]);
        Assert.Single(status["conditions"]!.AsArray());
        status["phase"] = "Paused"; // its own copy: a change does not reach the page, nor fail on it
        Assert.Equal("Progressing", new Sighting(Page().GetProperty("items")[0]).Status!.Value.GetProperty("phase").GetString());
    }

    /// <summary>A Deployment as the API server sends it: status, conditions, managedFields, probes and resources.</summary>
    private static string DeploymentJson(string image = "web:2", int replicas = 3, string phase = "True") => """
        {"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"web","namespace":"ns","resourceVersion":"7","generation":4,"labels":{"app":"web"},
                     "annotations":{"deployment.kubernetes.io/revision":"4"},
                     "managedFields":[{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","fieldsType":"FieldsV1",
                                       "fieldsV1":{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{}}}}}}]},
         "spec":{"replicas":REPLICAS,"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"RollingUpdate"},
                 "template":{"metadata":{"labels":{"app":"web","canaryflow.dev/track":"canary"}},
                             "spec":{"containers":[
                               {"name":"sidecar","image":"proxy:1","resources":{"limits":{"memory":"64Mi"}}},
                               {"name":"app","image":"IMAGE","ports":[{"containerPort":8080}],
                                "readinessProbe":{"httpGet":{"path":"/ready","port":8080}},
                                "resources":{"requests":{"cpu":"100m","memory":"128Mi"}},"env":[{"name":"MODE","value":"fast"}]}],
                             "securityContext":{"runAsNonRoot":true},"terminationGracePeriodSeconds":30}}},
         "status":{"replicas":REPLICAS,"readyReplicas":REPLICAS,"observedGeneration":4,
                   "conditions":[{"type":"Available","status":"AVAILABLE","reason":"MinimumReplicasAvailable"},
                                 {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}}
        """.Replace("REPLICAS", $"{replicas}").Replace("IMAGE", image).Replace("AVAILABLE", phase);

    private static WatchedDeployment Watched(string json) =>
        WatchedDeployment.From(new Sighting(JsonSerializer.Deserialize<JsonElement>(json)), TrackLabel);

    private static readonly string TrackLabel = new KubernetesOptions().TrackLabel;

    [Fact]
    public void A_kept_Deployment_keeps_its_name_version_images_and_the_revision_the_whole_typed_object_has()
    {
        var watched = Watched(DeploymentJson());
        var whole = KubernetesJson.Deserialize<V1Deployment>(DeploymentJson());

        Assert.Equal(("web", (string?)"7"), (watched.Name, watched.ResourceVersion));
        // The revision initialisation records (from the Deployment read whole): a kept copy must not see a release in it.
        Assert.Equal(PodTemplateHash.Compute(whole.Spec.Template, TrackLabel), watched.Revision);
        Assert.Equal([("sidecar", (string?)"proxy:1"), ("app", "web:2")], watched.Containers);
        Assert.Equal("web:2", watched.ImageOf("app"));
        Assert.Equal("proxy:1", watched.ImageOf(null)); // no container named: the first one's
        Assert.Equal("proxy:1", watched.ImageOf("gone"));
    }

    [Fact]
    public void A_kept_Deployment_has_a_new_revision_for_a_release_and_the_same_one_for_scale_and_status_changes()
    {
        var revision = Watched(DeploymentJson()).Revision;

        Assert.Equal(revision, Watched(DeploymentJson(replicas: 5, phase: "False")).Revision);
        Assert.NotEqual(revision, Watched(DeploymentJson(image: "web:3")).Revision);
    }

    [Fact]
    public void Keeping_a_Deployment_the_watch_never_evaluates_costs_a_copy_of_its_template_not_a_parse()
    {
        // Most Deployment events are of stable copies and status changes, never evaluated: no typed model, no hash for them.
        var element = JsonSerializer.Deserialize<JsonElement>(DeploymentJson());
        var template = element.GetProperty("spec").GetProperty("template").GetRawText();
        for (var i = 0; i < 3; i++) _ = (WatchedDeployment.From(new Sighting(element), TrackLabel), KubernetesJson.Deserialize<V1PodTemplateSpec>(template)); // JIT first

        var before = GC.GetAllocatedBytesForCurrentThread();
        var kept = WatchedDeployment.From(new Sighting(element), TrackLabel);
        var keeping = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        _ = KubernetesJson.Deserialize<V1PodTemplateSpec>(template);
        var parsing = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(keeping * 2 < parsing, $"keeping {keeping} B, parsing the template {parsing} B");
        Assert.Equal("web:2", kept.ImageOf("app")); // read when first asked for
    }

    [Fact]
    public void A_kept_Deployment_holds_only_what_the_watch_reads_of_it()
    {
        // Status, conditions, managedFields, the pod spec: none of it is kept (a new field here is a choice, not a leak).
        Assert.Equal(["Containers", "Name", "ResourceVersion", "Revision"],
            typeof(WatchedDeployment).GetProperties().Select(p => p.Name).Order());
        Assert.All(typeof(WatchedDeployment).GetProperties(), p => Assert.NotEqual(typeof(JsonElement), p.PropertyType));
        Assert.Empty(Watched("""{"metadata":{"name":"bare"}}""").Containers); // a Deployment without a template: nothing to roll out
    }

    [Fact]
    public void The_cluster_wide_index_summarises_a_status_read_from_the_unparsed_event()
    {
        var index = new CanaryStatusIndex();
        var alpha = new Sighting(Page().GetProperty("items")[0]);

        index.Observe("ns", alpha.Name, alpha.TargetName, alpha.Status);
        var row = index.Find(new RolloutTarget("ns", "alpha-app"))!;

        Assert.Equal(("alpha", "Progressing", 50, 1, (string?)"r2"), (row.Canary, row.Phase, row.CanaryWeight, row.Step, row.Revision));
        Assert.Equal(DateTimeOffset.Parse("2026-12-02T03:00:00Z"), row.LastTransitionAt);
        Assert.Equal(DateTimeOffset.Parse("2026-12-02T02:59:00Z"), row.HoldingSince);
        // The same Canary pointed at another target moves its row; a deletion removes it.
        index.Observe("ns", "alpha", "other-app", null);
        Assert.Null(index.Find(new RolloutTarget("ns", "alpha-app")));
        Assert.Equal(("Pending", 0), (index.Find(new RolloutTarget("ns", "other-app"))!.Phase, index.Find(new RolloutTarget("ns", "other-app"))!.CanaryWeight));
        index.Remove("ns", "alpha");
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void The_built_controller_runs_workstation_garbage_collection()
    {
        // The web SDK's default is server GC; the project file turns it off (a misspelt property once left it on).
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "CanaryFlow.Controller.runtimeconfig.json")))!;
        Assert.False((bool?)config["runtimeOptions"]!["configProperties"]!["System.GC.Server"] ?? false);
    }
}
