using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Model;

namespace CanaryFlow.Controller.Tests.Kubernetes.Strategies;

/// <summary>Strategy fields of the Canary spec to the rollout plan, and the checks repeated for clusters without the CRD's rules.</summary>
public sealed class StrategyPlanTests
{
    private static PlanResult Map(string spec) => CanaryPlanMapper.Map(JsonSerializer.Deserialize<CanarySpec>(
        $$"""{"targetRef":{"name":"web"},{{(spec.Contains("\"service\"", StringComparison.Ordinal) ? "" : "\"service\":{\"port\":80},")}}{{spec}}}""", CanaryResource.Json));

    private const string Match = """ "match":[{"headers":{"x-user-group":{"exact":"beta"}}}] """;

    [Fact]
    public void AB_testing_is_a_plan_of_iterations_steps_at_100_percent_of_the_matching_requests()
    {
        var plan = Map($$$""" "analysis":{"iterations":4,{{{Match}}},"approval":{"beforePromotion":true}} """).Plan!;

        Assert.Equal([100, 100, 100, 100], plan.Steps);
        Assert.True(plan.ApprovalBeforePromotion);
        Assert.Equal("A/B testing (Istio): 4 iterations on matching requests, then promotion", plan.Strategy);
    }

    [Fact]
    public void The_router_is_named_in_the_plans_strategy()
    {
        Assert.Equal("Canary (Istio)", Map(""" "analysis":{"stepWeight":50} """).Plan!.Strategy);
        Assert.Equal("Canary (Gateway API HTTPRoute)", Map(""" "provider":"gatewayapi" """).Plan!.Strategy);
        Assert.Equal("Canary (Istio), HPA web-hpa (primary: web-hpa-primary)", Map(""" "autoscalerRef":{"name":"web-hpa"} """).Plan!.Strategy);
    }

    [Fact]
    public void Mirroring_puts_its_iterations_at_weight_0_before_the_canary_steps_and_blue_green_then_switches_to_100()
    {
        var mirror = Map(""" "analysis":{"stepWeight":50,"mirror":{"iterations":2,"percentage":20}} """).Plan!;
        Assert.Equal([0, 0, 50, 100], mirror.Steps);
        Assert.Equal(2, mirror.MirrorSteps);
        Assert.Equal("Canary (Istio) after 2 iterations on 20% mirrored traffic", mirror.Strategy);

        var blueGreen = Map(""" "analysis":{"blueGreen":true,"mirror":{"iterations":3}} """).Plan!;
        Assert.Equal([0, 0, 0, 100], blueGreen.Steps);
        Assert.Equal(3, blueGreen.MirrorSteps);
        Assert.StartsWith("Blue/green (Istio): 3 iterations on 100% mirrored traffic", blueGreen.Strategy);
    }

    [Theory]
    [InlineData(""" "analysis":{MATCH} """, "spec.analysis.match (A/B testing) needs iterations: how many checks before promotion")]
    [InlineData(""" "analysis":{"iterations":2,"stepWeight":10,MATCH} """, "spec.analysis.match (A/B testing) sends every matching request to the canary: no stepWeight, maxWeight or steps")]
    [InlineData(""" "analysis":{"iterations":2} """, "spec.analysis.iterations needs match (A/B testing)")]
    [InlineData(""" "analysis":{"iterations":2,MATCH,"approval":{"atWeights":[100]}} """, "spec.analysis.approval.atWeights has no meaning for A/B testing: use beforePromotion")]
    [InlineData(""" "provider":"linkerd" """, "spec.provider must be istio or gatewayapi, got \"linkerd\"")]
    [InlineData(""" "provider":"gatewayapi","virtualService":{"name":"vs"} """, "spec.virtualService and spec.destinationRule are Istio's: not with provider gatewayapi")]
    [InlineData(""" "service":{"port":80,"gatewayRefs":[{"name":"gw"}]} """, "spec.service.gatewayRefs needs provider gatewayapi")]
    [InlineData(""" "analysis":{"blueGreen":true} """, "spec.analysis.blueGreen analyses mirrored traffic: it needs spec.analysis.mirror")]
    [InlineData(""" "analysis":{"blueGreen":true,"stepWeight":10,"mirror":{"iterations":1}} """, "spec.analysis.blueGreen switches 0 → 100 at once: no stepWeight, maxWeight or steps")]
    [InlineData(""" "provider":"gatewayapi","analysis":{"mirror":{"iterations":1}} """, "spec.analysis.mirror needs provider istio")]
    public void A_strategy_spec_that_does_not_hold_together_is_an_error_not_a_plan(string spec, string error)
    {
        var result = Map(spec.Replace("MATCH", Match));

        Assert.Null(result.Plan);
        Assert.Contains(error, result.Errors);
    }
}
