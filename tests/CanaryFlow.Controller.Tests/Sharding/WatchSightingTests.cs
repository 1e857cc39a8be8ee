using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Watch;

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

    [Fact]
    public void A_kept_Deployment_is_parsed_into_the_typed_model_the_watch_evaluates()
    {
        var seen = new Sighting(JsonSerializer.Deserialize<JsonElement>("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","resourceVersion":"7","labels":{"app":"web"}},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
                     "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"web:2"}]}}}}
            """));

        var deployment = seen.ToDeployment();

        Assert.Equal(("web", "7", (int?)3), (deployment.Metadata.Name, deployment.Metadata.ResourceVersion, deployment.Spec.Replicas));
        Assert.Equal("web:2", deployment.Spec.Template.Spec.Containers.Single().Image);
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
