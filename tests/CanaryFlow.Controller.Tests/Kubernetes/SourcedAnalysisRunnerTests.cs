using CanaryFlow.Analysis;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Templates;
using CanaryFlow.Controller.Tests.Demo;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A template's own Prometheus (a real one here) answers its metric; the other metrics stay with the controller's runner.</summary>
public sealed class SourcedAnalysisRunnerTests(EmptyPrometheus prometheus) : IClassFixture<EmptyPrometheus>
{
    private sealed class Passing : IAnalysisRunner
    {
        public AnalysisSpec? Asked;
        public Task<AnalysisVerdict> RunAsync(AnalysisRequest request, CancellationToken cancellationToken)
        {
            Asked = request.Spec;
            return Task.FromResult(new AnalysisVerdict(VerdictOutcome.Passed,
                new AnalysisEvidence("1000 requests", [new MetricResult("request-success-rate", 100, 99, null, "pass")])));
        }
    }

    private AnalysisRequest Request(params MetricSpec[] metrics) => new(new RolloutTarget("shop", "checkout"), "checkout", "checkout-primary",
        TimeSpan.FromMinutes(1), new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 99), .. metrics]), DateTimeOffset.UtcNow);

    [Theory]
    [InlineData(5.0, VerdictOutcome.Failed, "fail")]
    [InlineData(10.0, VerdictOutcome.Passed, "pass")]
    public async Task A_metric_of_a_template_with_an_address_is_judged_by_that_Prometheus(double max, VerdictOutcome expected, string outcome)
    {
        var inner = new Passing();
        var runner = new SourcedAnalysisRunner(inner, null!, new PrometheusOptions(), TimeProvider.System);
        var source = new PrometheusSource(prometheus.Process.Address.ToString());

        var verdict = await runner.RunAsync(Request(new MetricSpec("queue-depth", "vector(7) + 0 * count(up{job=\"{{target}}\"} or vector(1))", Max: max, Source: source)), default);

        Assert.Equal(expected, verdict.Outcome);
        var depth = Assert.Single(verdict.Evidence.Metrics, m => m.Name == "queue-depth");
        Assert.Equal((7.0, outcome), (depth.Value, depth.Outcome));
        Assert.Equal(["request-success-rate"], inner.Asked!.Metrics.Select(m => m.Name)); // the controller's runner never saw it
    }

    [Fact]
    public async Task An_unreachable_template_Prometheus_makes_a_passing_check_inconclusive_never_a_pass()
    {
        var runner = new SourcedAnalysisRunner(new Passing(), null!, new PrometheusOptions { MaxRetries = 0, AttemptTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
        var verdict = await runner.RunAsync(Request(new MetricSpec("queue-depth", "vector(1)", Max: 5, Source: new PrometheusSource(Hooks.HookedEngine.Unreachable()))), default);
        Assert.Equal(VerdictOutcome.QueryError, verdict.Outcome);
    }
}
