using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

public sealed class CanaryPlanMapperTests
{
    private static CanarySpec Spec(string json) => JsonSerializer.Deserialize<CanarySpec>(json, CanaryResource.Json)!;

    [Fact]
    public void A_minimal_spec_gets_the_documented_defaults()
    {
        var result = CanaryPlanMapper.Map(Spec("""{"targetRef":{"name":"web"},"service":{"port":80}}"""));
        var plan = Assert.IsType<CanaryFlow.Contracts.RolloutPlan>(result.Plan);
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], plan.Steps);
        Assert.Equal(TimeSpan.FromMinutes(1), plan.AnalysisInterval);
        Assert.Equal(5, plan.FailureLimit);
        Assert.Equal(TimeSpan.FromMinutes(10), plan.ProgressDeadline);
        Assert.False(plan.ApprovalBeforePromotion);
    }

    [Fact]
    public void A_full_spec_maps_every_field()
    {
        var result = CanaryPlanMapper.Map(Spec("""
            {"targetRef":{"name":"web"},"service":{"port":80},
             "analysis":{"interval":"1m30s","steps":[5,25,50],"failureLimit":2,"inconclusiveLimit":3,"errorLimit":4,"progressDeadlineSeconds":120,
               "minRequests":50,"metrics":[{"name":"request-success-rate","thresholdRange":{"min":99}},{"name":"p99","query":"q","thresholdRange":{"max":500}}],
               "comparison":{"confidence":0.9,"useBaseline":true},"approval":{"beforePromotion":true,"atWeights":[25]}}}
            """));
        var plan = result.Plan!;
        Assert.Equal([5, 25, 50], plan.Steps);
        Assert.Equal(TimeSpan.FromSeconds(90), plan.AnalysisInterval);
        Assert.Equal((2, 3, 4), (plan.FailureLimit, plan.InconclusiveLimit, plan.ErrorLimit));
        Assert.Equal(TimeSpan.FromMinutes(2), plan.ProgressDeadline);
        Assert.Equal([25], plan.ApprovalAtWeights);
        Assert.True(plan.ApprovalBeforePromotion);
        Assert.Equal(50, plan.Analysis.MinRequests);
        Assert.Equal(new CanaryFlow.Contracts.MetricSpec("p99", "q", null, 500), plan.Analysis.Metrics[1]);
        Assert.Equal(0.9, plan.Analysis.Comparison!.Confidence);
        Assert.True(plan.Analysis.Comparison.UseBaseline);
    }

    [Theory]
    [InlineData("""{"service":{"port":80}}""", "targetRef.name is required")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":0}}""", "port must be 1..65535")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"stepWeight":0}}""", "stepWeight must be 1..100")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"steps":[10,5]}}""", "strictly increasing")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"interval":"soon"}}""", "not a duration")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"steps":[10],"stepWeight":10}}""", "not both")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"approval":{"atWeights":[15]}}}""", "15 is not one of the steps")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"metrics":[{"name":"m","thresholdRange":{"min":2,"max":1}}]}}""", "min 2 is above max 1")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"imagePolicy":{"container":"c","repository":"r","tagPolicy":{"kind":"regex","value":"("}}}""", "not a valid regular expression")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"metrics":[{"name":"errors","query":"sum(rate(x_total{job=\"a\"}[{{interval}}])"}]}}""", "'(' is not closed")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"metrics":[{"name":"errors","query":"sum(rate(x_total{pod=\"{{pod}}\"}[1m]))"}]}}""", "unknown variable {{pod}}")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"analysis":{"metrics":[{"name":"my-metric"}]}}""", "needs a query")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"virtualService":{"stableSubset":"v1","canarySubset":"v1"}}""", "stableSubset and canarySubset must differ")]
    [InlineData("""{"targetRef":{"name":"w"},"service":{"port":80},"virtualService":{"stableSubset":"canary"}}""", "must differ, both are \"canary\"")]
    public void An_invalid_spec_yields_errors_not_an_exception(string json, string error)
    {
        var result = CanaryPlanMapper.Map(Spec(json));
        Assert.Null(result.Plan);
        Assert.Contains(result.Errors, e => e.Contains(error));
    }

    [Fact]
    public void The_revision_ignores_server_defaults_and_the_track_label_but_not_the_image()
    {
        V1PodTemplateSpec Template(string image, bool defaulted, string? track) => new()
        {
            Metadata = new V1ObjectMeta { Labels = track is null ? new Dictionary<string, string> { ["app"] = "w" } : new Dictionary<string, string> { ["app"] = "w", ["canaryflow.dev/track"] = track } },
            Spec = new V1PodSpec
            {
                DnsPolicy = defaulted ? "ClusterFirst" : null,
                RestartPolicy = defaulted ? "Always" : null,
                Containers = [new V1Container { Name = "c", Image = image, ImagePullPolicy = defaulted ? "IfNotPresent" : null, TerminationMessagePath = defaulted ? "/dev/termination-log" : null }],
            },
        };
        var written = PodTemplateHash.Compute(Template("w:1", false, null), "canaryflow.dev/track");
        Assert.Equal(written, PodTemplateHash.Compute(Template("w:1", true, "canary"), "canaryflow.dev/track"));
        Assert.NotEqual(written, PodTemplateHash.Compute(Template("w:2", true, "canary"), "canaryflow.dev/track"));
    }
}
