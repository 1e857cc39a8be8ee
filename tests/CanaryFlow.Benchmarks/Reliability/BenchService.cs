using System.Text.Json.Nodes;
using CanaryFlow.Contracts;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>One service of a harness run: its Deployment, its Canary and the release it gets
/// (healthy, or a new version whose errors must fail analysis).</summary>
/// <param name="Mode">spec.analysis.mode. The reliability and reaction figures were measured with fixed windows, so that
/// stays these harnesses' mode; the load harness runs either (<c>--mode</c>).</param>
public sealed record BenchService(string Namespace, string Name, bool Faulty, int StepWeight, int MaxWeight, TimeSpan Interval, int FailureLimit,
    string Mode = "fixed-window")
{
    public string StableImage => $"bench/{Name}:1.0";
    public string NewImage => Faulty ? $"bench/{Name}:2.0-faulty" : $"bench/{Name}:2.0";
    public string ExpectedPhase => Faulty ? RolloutPhases.Failed : RolloutPhases.Succeeded;

    /// <summary>The weights the plan walks through, in order.</summary>
    public IReadOnlyList<int> Steps => Enumerable.Range(1, MaxWeight / StepWeight).Select(i => i * StepWeight).ToList();

    public static IReadOnlyList<BenchService> Many(string ns, int count, double faultyShare, TimeSpan interval, int seed, int stepWeight = 25,
        string mode = "fixed-window") =>
        Enumerable.Range(0, count)
            .Select(i => new BenchService(ns, $"svc-{i:D4}", new Random(seed + i).NextDouble() < faultyShare, stepWeight, 100, interval, 2, mode))
            .ToList();

    public JsonObject DeploymentManifest() => JsonNode.Parse($$"""
        {
          "apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": { "name": "{{Name}}", "namespace": "{{Namespace}}", "labels": { "app": "{{Name}}" } },
          "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "{{Name}}" } },
            "template": {
              "metadata": { "labels": { "app": "{{Name}}" } },
              "spec": { "containers": [ { "name": "app", "image": "{{StableImage}}", "ports": [ { "containerPort": 8080 } ] } ] }
            }
          }
        }
        """)!.AsObject();

    public JsonObject CanaryManifest() => JsonNode.Parse($$"""
        {
          "apiVersion": "canaryflow.dev/v1alpha1", "kind": "Canary",
          "metadata": { "name": "{{Name}}", "namespace": "{{Namespace}}" },
          "spec": {
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "{{Name}}" },
            "service": { "port": 8080 },
            "analysis": {
              "interval": "{{(int)Interval.TotalSeconds}}s", "mode": "{{Mode}}",
              "stepWeight": {{StepWeight}}, "maxWeight": {{MaxWeight}},
              "failureLimit": {{FailureLimit}}, "minRequests": 5, "progressDeadlineSeconds": 600,
              "metrics": [ { "name": "request-success-rate", "thresholdRange": { "min": 95 } } ]
            }
          }
        }
        """)!.AsObject();
}
