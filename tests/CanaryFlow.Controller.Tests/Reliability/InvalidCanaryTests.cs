using System.Text.Json.Nodes;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Controller.Tests.Reliability;

/// <summary>Issue 5, bad input: Canary specs with every field wrong, next to a valid one, on the sandbox API.</summary>
public sealed class InvalidCanaryTests : IAsyncLifetime
{
    private const string Ns = WholeController.Ns;
    private WholeController _controller = null!;

    public async Task InitializeAsync() => _controller = await WholeController.StartAsync();

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    private ObjectStore Store => _controller.Sandbox.Store;

    /// <summary>Wrong in ways the CRD's schema states: the API server refuses them at admission (422), as a cluster would.</summary>
    public static TheoryData<string, string, string> RefusedBySchema => new()
    {
        { "negative-weight", """{ "interval": "1s", "stepWeight": -10, "maxWeight": 50 }""", "stepWeight" },
        { "steps-over-100", """{ "interval": "1s", "steps": [50, 150] }""", "steps[1]" },
        { "bad-interval", """{ "interval": "soon", "stepWeight": 50 }""", "interval" },
        { "failure-limit-zero", """{ "interval": "1s", "stepWeight": 50, "failureLimit": 0 }""", "failureLimit" },
        // The CRD's CEL rule (x-kubernetes-validations) on thresholdRange.
        { "min-above-max", """{ "interval": "1s", "stepWeight": 50, "metrics": [ { "name": "request-success-rate", "thresholdRange": { "min": 99, "max": 1 } } ] }""", "min must not exceed max" },
    };

    /// <summary>Wrong in ways the schema does not state: admitted, then reported by the controller.</summary>
    public static TheoryData<string, string, string> Invalid => new()
    {
        { "custom-metric-without-query", """{ "interval": "1s", "stepWeight": 50, "metrics": [ { "name": "error-budget" } ] }""", "needs a query" },
        { "bad-promql", """{ "interval": "1s", "stepWeight": 50, "metrics": [ { "name": "errors", "query": "sum(rate(errors_total{pod=\"{{pod}}\"}[1m])" } ] }""", "query" },
        { "gate-not-a-step", """{ "interval": "1s", "stepWeight": 50, "approval": { "atWeights": [15] } }""", "atWeights" },
    };

    [Fact]
    public void Specs_the_schema_forbids_are_refused_at_admission_with_the_field_named()
    {
        foreach (var row in RefusedBySchema)
        {
            var refused = Assert.Throws<ApiError>(() => Store.Create(ResourceKinds.Canaries, Ns, Canary((string)row[0], (string)row[1], withTarget: true)));
            Assert.Equal(422, refused.Code);
            Assert.Contains((string)row[2], refused.Message);
        }
        var noTarget = Assert.Throws<ApiError>(() => Store.Create(ResourceKinds.Canaries, Ns, Canary("missing-target", """{ "interval": "1s" }""", withTarget: false)));
        Assert.Contains("targetRef", noTarget.Message);
    }

    [Fact]
    public async Task Every_invalid_spec_gets_a_condition_and_an_event_and_the_valid_canary_next_to_them_still_rolls_out()
    {
        foreach (var (name, _, _) in Invalid.Select(r => ((string)r[0], (string)r[1], (string)r[2]))) Store.Create(ResourceKinds.Deployments, Ns, Deployment(name, "1.0"));
        Store.Create(ResourceKinds.Deployments, Ns, Deployment("valid", "1.0"));
        foreach (var row in Invalid) Store.Create(ResourceKinds.Canaries, Ns, Canary((string)row[0], (string)row[1], withTarget: true));
        Store.Create(ResourceKinds.Canaries, Ns, Canary("valid", """{ "interval": "1s", "mode": "fixed-window", "stepWeight": 50, "failureLimit": 2 }""", withTarget: true));

        var expected = Invalid.Select(r => ((string)r[0], (string)r[2])).ToList();
        await WaitAsync(() => expected.All(e => ReadyCondition(e.Item1) is { } c && (string?)c["reason"] == "InvalidSpec")
                              && (string?)Status("valid")?["stableRevision"] is not null, "conditions on every Canary and the valid one initialised");
        foreach (var (name, field) in expected)
        {
            var condition = ReadyCondition(name)!;
            Assert.Equal("False", (string?)condition["status"]);
            Assert.Contains(field, (string?)condition["message"]);
            Assert.Contains(Events(), e => (string?)e["involvedObject"]?["name"] == name && (string?)e["reason"] == "InvalidSpec" && (string?)e["type"] == "Warning");
        }

        // The release of the valid Canary goes all the way, whatever its neighbours are.
        Store.Patch(ResourceKinds.Deployments, Ns, "valid", d => { d["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = "rel/valid:2.0"; return d; }, statusOnly: false);
        await WaitAsync(() => (string?)Status("valid")?["phase"] == "Succeeded" && (string?)Status("valid")?["canaryRevision"] is not null
                              && Image("valid-primary") == "rel/valid:2.0", "the valid Canary promoted");
        Assert.All(expected, e => Assert.NotEqual("Progressing", (string?)Status(e.Item1)?["phase"]));
    }

    private JsonNode? Status(string name) => Store.Get(ResourceKinds.Canaries, Ns, name)["status"];

    private JsonObject? ReadyCondition(string name) =>
        (Status(name)?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == "Ready");

    private IReadOnlyList<JsonObject> Events() => Store.List(ResourceKinds.Events, Ns, LabelSelector.Parse(null)).Items;

    private string? Image(string deployment) =>
        Store.List(ResourceKinds.Deployments, Ns, LabelSelector.Parse(null), deployment).Items.FirstOrDefault()?["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.GetValue<string>();

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 600; i++) // at most 60 s
        {
            if (condition()) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"timed out waiting for {what}");
    }

    private static JsonObject Deployment(string name, string version) => JsonNode.Parse($$"""
        { "metadata": { "name": "{{name}}", "labels": { "app": "{{name}}" } },
          "spec": { "replicas": 1, "selector": { "matchLabels": { "app": "{{name}}" } },
            "template": { "metadata": { "labels": { "app": "{{name}}" } },
              "spec": { "containers": [ { "name": "app", "image": "rel/{{name}}:{{version}}" } ] } } } }
        """)!.AsObject();

    private static JsonObject Canary(string name, string analysis, bool withTarget) => JsonNode.Parse($$"""
        { "apiVersion": "canaryflow.dev/v1alpha1", "kind": "Canary", "metadata": { "name": "{{name}}" },
          "spec": { {{(withTarget ? $$"""  "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "{{name}}" }, """ : "")}}
                    "service": { "port": 8080 }, "analysis": {{analysis}} } }
        """)!.AsObject();
}
