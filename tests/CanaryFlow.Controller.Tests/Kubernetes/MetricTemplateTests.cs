using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Templates;
using CanaryFlow.Controller.Tests.Demo;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// MetricTemplate and ClusterMetricTemplate through the Canary API: admitted or refused by their CRDs' rules, read
/// into a Canary's plan through <c>templateRef</c>, and a missing template or a query Prometheus' parser refuses
/// reported as an invalid spec (Ready=False, InvalidSpec, a Warning Event) before any rollout. Runs on the sandbox and
/// on the real kube-apiserver, with a real Prometheus (its /api/v1/format_query is the parser).
/// </summary>
public abstract class MetricTemplateContract(KubeServer server, EmptyPrometheus prometheus) : IClassFixture<EmptyPrometheus>, IAsyncLifetime
{
    private KubeTestHost _host = null!;
    private string Ns => _host.Namespace;

    [Fact]
    public async Task A_metric_template_and_a_cluster_template_become_the_plans_queries_with_their_own_Prometheus()
    {
        await CreateTemplateAsync("error-rate", """{"query":"sum(rate(http_errors_total{namespace=\"{{namespace}}\",app=\"{{target}}\"}[{{interval}}]))"}""");
        var cluster = $"latency-{Ns}";
        await CreateClusterTemplateAsync(cluster, """{"query":"histogram_quantile(0.99, sum(rate(latency_bucket{app=\"{{target}}\"}[{{interval}}])) by (le))","address":"http://thanos.monitoring:9090","secretRef":{"name":"thanos","namespace":"monitoring"}}""");
        try
        {
            await _host.CreateCanaryAsync("podinfo", "podinfo", Metrics("""
                [{"name":"errors","templateRef":{"name":"error-rate"},"thresholdRange":{"max":1}},
                 {"name":"p99","templateRef":{"name":"CLUSTER","kind":"ClusterMetricTemplate"},"thresholdRange":{"max":500}}]
                """.Replace("CLUSTER", cluster)));
            var result = await _host.Get<CanaryPlanResolver>().MapAsync(CanaryResource.FromObject(await _host.GetCanaryAsync("podinfo")), default);

            Assert.Empty(result.Errors);
            var metrics = result.Plan!.Analysis.Metrics;
            Assert.StartsWith("sum(rate(http_errors_total{namespace=\"{{namespace}}\"", metrics[0].Query);
            Assert.Null(metrics[0].Source);
            Assert.Equal(1, metrics[0].Max);
            Assert.StartsWith("histogram_quantile(0.99", metrics[1].Query);
            Assert.Equal(new PrometheusSource("http://thanos.monitoring:9090", "monitoring", "thanos", "token"), metrics[1].Source);
        }
        finally
        {
            await _host.Client.CustomObjects.DeleteClusterCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, CanaryPlanResolver.ClusterMetricTemplates, cluster);
        }
    }

    public static TheoryData<string, string> Refused => new()
    {
        { """{"query":"up{pod=\"{{pod}}\"}"}""", "the query's variables are {{namespace}}, {{target}}, {{canary}}, {{stable}} and {{interval}}" },
        { """{"query":"up","secretRef":{"name":"token"}}""", "secretRef is for another Prometheus, so it needs an address" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_template_that_breaks_a_rule_is_refused_at_admission(string spec, string message)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateTemplateAsync("bad", spec));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        var cause = Assert.Single(JsonNode.Parse(refused.Response.Content)!["details"]!["causes"]!.AsArray())!;
        Assert.Equal(("spec", $"Invalid value: \"object\": {message}"), ((string?)cause["field"], (string?)cause["message"]));
    }

    [Fact]
    public async Task A_metric_with_both_query_and_templateRef_is_refused_at_admission()
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => _host.CreateCanaryAsync("podinfo", "podinfo",
            Metrics("""[{"name":"errors","query":"up","templateRef":{"name":"error-rate"}}]""")));
        Assert.Contains("spec.analysis.metrics[0]: Invalid value: \"object\": give either query or templateRef, not both",
            (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
    }

    [Fact]
    public async Task A_missing_template_makes_the_Canary_invalid_before_any_rollout()
    {
        await AssertInvalidAsync(Metrics("""[{"name":"errors","templateRef":{"name":"nowhere"}}]"""),
            $"spec.analysis.metrics[0].templateRef: MetricTemplate {{0}}/nowhere does not exist");
    }

    [Fact]
    public async Task A_template_query_that_Prometheus_cannot_parse_makes_the_Canary_invalid_before_any_rollout()
    {
        await CreateTemplateAsync("broken", """{"query":"sum(rate(http_errors_total{app=\"{{target}}\"}[{{interval}}])) by"}""");
        await AssertInvalidAsync(Metrics("""[{"name":"errors","templateRef":{"name":"broken"}}]"""),
            "spec.analysis.metrics[0] (errors): the query does not parse: 1:");
    }

    /// <summary>The watch reports the spec: condition Ready=False/InvalidSpec with the reason, and a Warning Event; nothing is created.</summary>
    private async Task AssertInvalidAsync(JsonObject spec, string message)
    {
        message = string.Format(message, Ns);
        await _host.CreateDeploymentAsync("podinfo", "podinfo:1");
        await _host.CreateCanaryAsync("podinfo", "podinfo", spec);
        await _host.StartWatcherAsync();
        JsonNode? ready = null;
        await KubeTestHost.EventuallyAsync(async () =>
        {
            ready = (await _host.GetCanaryAsync("podinfo"))["status"]?["conditions"]?.AsArray().FirstOrDefault(c => (string?)c?["type"] == "Ready");
            return ready is not null;
        }, "the Ready condition");
        Assert.Equal(("False", "InvalidSpec"), ((string?)ready!["status"], (string?)ready["reason"]));
        Assert.Contains(message, (string?)ready["message"]);
        await KubeTestHost.EventuallyAsync(async () => (await _host.Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
            .Any(e => e.InvolvedObject.Name == "podinfo" && e.Reason == "InvalidSpec" && e.Type == "Warning" && e.Message.Contains(message)), "the Warning Event");
        Assert.Null((await _host.GetCanaryAsync("podinfo"))["status"]?["trackedRevision"]); // not initialised, no rollout
        await Assert.ThrowsAsync<HttpOperationException>(() => _host.Client.AppsV1.ReadNamespacedDeploymentAsync("podinfo-primary", Ns));
    }

    private static JsonObject Metrics(string metrics) =>
        new() { ["analysis"] = new JsonObject { ["interval"] = "1s", ["metrics"] = JsonNode.Parse(metrics) } };

    private Task CreateTemplateAsync(string name, string spec) =>
        _host.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Template("MetricTemplate", name, spec),
            CanaryResource.Group, CanaryResource.Version, Ns, CanaryPlanResolver.MetricTemplates);

    private Task CreateClusterTemplateAsync(string name, string spec) =>
        _host.Client.CustomObjects.CreateClusterCustomObjectAsync(Template("ClusterMetricTemplate", name, spec),
            CanaryResource.Group, CanaryResource.Version, CanaryPlanResolver.ClusterMetricTemplates);

    private static JsonObject Template(string kind, string name, string spec) => new()
    {
        ["apiVersion"] = CanaryResource.ApiVersion, ["kind"] = kind, ["metadata"] = new JsonObject { ["name"] = name }, ["spec"] = JsonNode.Parse(spec),
    };

    public async Task InitializeAsync() =>
        _host = await KubeTestHost.StartOnAsync(server, new() { ["Prometheus:Address"] = prometheus.Process.Address.ToString() });

    public async Task DisposeAsync() { if (_host is not null) await _host.DisposeAsync(); }
}

public sealed class MetricTemplateOnSandbox(EmptyPrometheus prometheus) : MetricTemplateContract(KubeServer.Sandbox, prometheus);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class MetricTemplateOnRealServer(EmptyPrometheus prometheus) : MetricTemplateContract(KubeServer.Real, prometheus);
