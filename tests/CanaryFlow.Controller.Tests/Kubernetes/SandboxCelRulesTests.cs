using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// How the sandbox compiles the CRD's CEL rules (x-kubernetes-validations). What it answers over HTTP is checked
/// against the real API server in <see cref="CanaryAdmissionContract"/>.
/// </summary>
public sealed class SandboxCelRulesTests
{
    [Fact]
    public void The_sandbox_loads_every_rule_of_the_installed_CRDs() =>
        Assert.Equal(Directory.GetFiles(Path.Combine(Infrastructure.RepositoryRoot.Path, "manifests", "crd"), "*.yaml")
            .Sum(f => File.ReadAllLines(f).Count(l => l.TrimStart().StartsWith("- rule:", StringComparison.Ordinal))), Admission.LoadRules());

    [Theory]
    [InlineData("self.min <=", "mismatched input")]
    [InlineData("self.min <= self.max\", \"messageExpression\": \"'min is ' + string(self.min)", "'messageExpression' is not applied by the sandbox")]
    [InlineData("self.min <= self.max\", \"fieldPath\": \".min", "'fieldPath' is not applied by the sandbox")]
    public void A_CRD_rule_the_sandbox_cannot_apply_is_refused_when_the_CRD_is_loaded(string rule, string why)
    {
        var schema = Schema("""
            {"type":"object","properties":{"range":{"type":"object","x-kubernetes-validations":[{"rule":"RULE"}],
             "properties":{"min":{"type":"number"},"max":{"type":"number"}}}}}
            """.Replace("RULE", rule));
        var refused = Assert.Throws<InvalidOperationException>(() => CelRules.Compile(schema));
        Assert.Contains("x-kubernetes-validations at range", refused.Message);
        Assert.Contains(why, refused.Message);
    }

    [Fact]
    public void Rules_under_status_apply_to_status_writes_and_rules_on_an_unchanged_spec_are_ratcheted()
    {
        var rules = CelRules.Compile(Schema("""
            {"type":"object","properties":{
              "spec":{"type":"object","x-kubernetes-validations":[{"rule":"self.replicas <= 10","message":"at most 10 replicas"}],
                      "properties":{"replicas":{"type":"integer"}}},
              "status":{"type":"object","x-kubernetes-validations":[{"rule":"self.weight <= 100","message":"weight is a percentage"}],
                        "properties":{"weight":{"type":"integer"}}}}}
            """));
        // Stored before the rule existed: spec breaks it.
        var stored = JsonNode.Parse("""{"spec":{"replicas":12},"status":{"weight":10}}""")!.AsObject();

        var statusWrite = JsonNode.Parse("""{"spec":{"replicas":12},"status":{"weight":30}}""")!.AsObject();
        Assert.Empty(rules.Validate(statusWrite, stored));
        var badStatus = JsonNode.Parse("""{"spec":{"replicas":12},"status":{"weight":130}}""")!.AsObject();
        Assert.Equal([new StatusCause("status", "Invalid value: \"object\": weight is a percentage")], rules.Validate(badStatus, stored));
        var specChange = JsonNode.Parse("""{"spec":{"replicas":11},"status":{"weight":10}}""")!.AsObject();
        Assert.Equal([new StatusCause("spec", "Invalid value: \"object\": at most 10 replicas")], rules.Validate(specChange, stored));
        Assert.Single(rules.Validate(stored, old: null)); // a create checks everything
    }

    private static JsonObject Schema(string json) => JsonNode.Parse(json)!.AsObject();
}
