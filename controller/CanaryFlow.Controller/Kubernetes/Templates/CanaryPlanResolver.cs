using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Controller.Kubernetes.Templates;

/// <summary>
/// A Canary's plan as the cluster makes it: each metric's <c>templateRef</c> read (a MetricTemplate in the Canary's
/// namespace unless another is named, or a ClusterMetricTemplate) and put in place of the query, then the spec mapped
/// (<see cref="CanaryPlanMapper"/>), then every custom query checked with Prometheus' parser
/// (<see cref="PromQlParseCheck"/>). A missing template or a query that does not parse is an invalid spec, reported
/// (condition and Event) before any rollout starts, not found as query errors during one.
/// </summary>
public sealed class CanaryPlanResolver(IKubernetes client, PromQlParseCheck promQl)
{
    public const string MetricTemplates = "metrictemplates";
    public const string ClusterMetricTemplates = "clustermetrictemplates";

    public async Task<PlanResult> MapAsync(CanaryResource canary, CancellationToken ct)
    {
        if (canary.Spec?.Analysis?.Metrics is not { Count: > 0 } metrics) return CanaryPlanMapper.Map(canary);
        var errors = new List<string>();
        var resolved = new List<CanaryMetric>();
        foreach (var (m, i) in metrics.Select((m, i) => (m, i)))
            resolved.Add(m.TemplateRef is { } r ? await ResolveAsync(canary, m, r, $"spec.analysis.metrics[{i}].templateRef", errors, ct) : m);
        if (errors.Count > 0) return new PlanResult(null, errors);

        var result = CanaryPlanMapper.Map(canary.Spec with { Analysis = canary.Spec.Analysis with { Metrics = resolved } });
        if (result.Plan is null) return result;
        foreach (var (m, i) in result.Plan.Analysis.Metrics.Select((m, i) => (m, i)))
            if (m.Query is { } query && await promQl.ProblemAsync(query, m.Source, ct) is { } problem)
                errors.Add($"spec.analysis.metrics[{i}] ({m.Name}): the query does not parse: {problem}");
        return errors.Count > 0 ? new PlanResult(null, errors) : result;
    }

    private async Task<CanaryMetric> ResolveAsync(CanaryResource canary, CanaryMetric metric, TemplateRef r, string field, List<string> errors, CancellationToken ct)
    {
        var cluster = r.Kind == "ClusterMetricTemplate";
        var ns = cluster ? null : r.Namespace ?? canary.Namespace;
        var what = cluster ? $"ClusterMetricTemplate {r.Name}" : $"MetricTemplate {ns}/{r.Name}";
        if (metric.Query is not null) { errors.Add($"{field}: give either query or templateRef, not both"); return metric; }
        if (string.IsNullOrWhiteSpace(r.Name)) { errors.Add($"{field}.name is required"); return metric; }
        JsonObject? template;
        try
        {
            var item = cluster
                ? await client.CustomObjects.GetClusterCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, ClusterMetricTemplates, r.Name, ct)
                : await client.CustomObjects.GetNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, ns, MetricTemplates, r.Name, ct);
            template = CanaryApi.ToNode(item) as JsonObject;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { template = null; }
        var spec = template?["spec"];
        if ((string?)spec?["query"] is not { Length: > 0 } query)
        {
            errors.Add(template is null ? $"{field}: {what} does not exist" : $"{field}: {what} has no query");
            return metric;
        }
        var address = (string?)spec["address"];
        var secret = spec["secretRef"];
        var source = address is null ? null : new PrometheusSource(address,
            secret is null ? null : (string?)secret["namespace"] ?? (cluster ? null : ns), (string?)secret?["name"], (string?)secret?["key"] ?? "token");
        return metric with { Query = query, TemplateRef = null, Source = source };
    }
}
