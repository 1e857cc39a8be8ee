using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// Admission of Canaries as the CRD in manifests/crd defines it (schema and CEL rules), through the real
/// KubernetesClient: 422 Invalid with the rule's message at the field path, never on a status write that leaves spec
/// alone. Runs on the sandbox and on the real kube-apiserver; the sandbox must answer exactly as the real one does.
/// </summary>
public abstract class CanaryAdmissionContract(KubeServer server) : TwoServerTest(server)
{
    /// <summary>Each of the CRD's three rules, broken: the analysis, the field that carries the rule, and its message.</summary>
    public static TheoryData<string, string, string> Violations => new()
    {
        { """{"stepWeight":40,"maxWeight":20}""", "spec.analysis", "stepWeight must not exceed maxWeight" },
        { """{"steps":[10,50],"stepWeight":10}""", "spec.analysis", "give either steps or stepWeight/maxWeight, not both" },
        { """{"stepWeight":10,"metrics":[{"name":"request-duration"},{"name":"request-success-rate","thresholdRange":{"min":99.5,"max":1}}]}""",
            "spec.analysis.metrics[1].thresholdRange", "min must not exceed max" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task A_Canary_that_breaks_a_CEL_rule_is_refused_with_422_and_the_rules_message_at_its_field(string analysis, string field, string message)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateAsync("podinfo", analysis));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        var status = JsonNode.Parse(refused.Response.Content)!;
        Assert.Equal("Invalid", (string?)status["reason"]);
        Assert.Equal($"Canary.canaryflow.dev \"podinfo\" is invalid: {field}: Invalid value: \"object\": {message}", (string?)status["message"]);
        var cause = Assert.Single(status["details"]!["causes"]!.AsArray())!;
        Assert.Equal(field, (string?)cause["field"]);
        Assert.Equal($"Invalid value: \"object\": {message}", (string?)cause["message"]);
        await Assert.ThrowsAsync<HttpOperationException>(() => Host.GetCanaryAsync("podinfo")); // nothing stored
    }

    [Theory]
    [InlineData("""{"stepWeight":20,"maxWeight":20}""")]
    [InlineData("""{"steps":[10,50,100]}""")]
    [InlineData("""{"maxWeight":30,"metrics":[{"name":"request-success-rate","thresholdRange":{"min":99,"max":99}},{"name":"request-duration","thresholdRange":{"max":500}}]}""")]
    public async Task A_Canary_within_every_rule_is_admitted(string analysis)
    {
        await CreateAsync("podinfo", analysis);
        Assert.NotNull((await Host.GetCanaryAsync("podinfo"))["spec"]!["analysis"]);
    }

    [Fact]
    public async Task An_update_that_breaks_a_rule_is_refused_and_the_stored_Canary_stays_as_it_was()
    {
        await CreateAsync("podinfo", """{"stepWeight":10,"maxWeight":50}""");
        var before = (await Host.GetCanaryAsync("podinfo")).ToJsonString();

        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"analysis":{"stepWeight":60}}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("spec.analysis: Invalid value: \"object\": stepWeight must not exceed maxWeight", (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
        Assert.Equal(before, (await Host.GetCanaryAsync("podinfo")).ToJsonString());
    }

    [Fact]
    public async Task A_status_write_is_not_held_to_the_spec_rules_and_cannot_change_the_spec()
    {
        await CreateAsync("podinfo", """{"stepWeight":10,"maxWeight":50}""");
        var canary = await Host.GetCanaryAsync("podinfo");
        // The status endpoint ignores spec: a body whose spec would break a rule still writes its status.
        canary["spec"]!["analysis"]!["stepWeight"] = 90;
        canary["status"] = new JsonObject { ["phase"] = "Progressing", ["canaryWeight"] = 10 };

        await Host.Client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(canary, CanaryResource.Group, CanaryResource.Version,
            Ns, CanaryResource.Plural, "podinfo");
        await Host.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch("""{"status":{"canaryWeight":20}}""", V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo");

        var stored = await Host.GetCanaryAsync("podinfo");
        Assert.Equal(10, (int?)stored["spec"]!["analysis"]!["stepWeight"]);
        Assert.Equal(20, (int?)stored["status"]!["canaryWeight"]);
        Assert.Equal("Progressing", (string?)stored["status"]!["phase"]);
    }

    [Fact]
    public async Task A_Canary_of_the_wrong_shape_gets_its_schema_errors_and_no_rule_is_evaluated()
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateAsync("podinfo", """{"stepWeight":"forty","maxWeight":20}"""));

        var message = (string?)JsonNode.Parse(refused.Response.Content)!["message"];
        Assert.Contains("spec.analysis.stepWeight: Invalid value: \"string\": spec.analysis.stepWeight in body must be of type integer: \"string\"", message);
        Assert.Contains("some validation rules were not checked because the object was invalid", message);
        Assert.DoesNotContain("stepWeight must not exceed maxWeight", message);
    }

    [Fact]
    public async Task A_Canary_with_more_metrics_than_the_CRD_bounds_is_refused_with_the_list_limit()
    {
        // The bound is what keeps the CEL rule under metrics within the API server's cost budget.
        var metrics = string.Join(",", Enumerable.Range(0, 33).Select(i => $$"""{"name":"m{{i}}","query":"up"}"""));
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateAsync("podinfo", $$"""{"metrics":[{{metrics}}]}"""));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("spec.analysis.metrics: Too many: 33: must have at most 32 items", (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
    }

    private Task CreateAsync(string name, string analysis) =>
        Host.CreateCanaryAsync(name, name, new JsonObject { ["analysis"] = JsonNode.Parse(analysis) });
}

public sealed class CanaryAdmissionOnSandbox() : CanaryAdmissionContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class CanaryAdmissionOnRealServer() : CanaryAdmissionContract(KubeServer.Real);
