using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Demo;

/// <summary>One service of the demo: its release story and the two processes (stable and canary
/// pods) that serve its traffic and export Istio-style metrics.</summary>
public sealed class DemoService(string name, string story, string newImage, string expectedPhase, bool approvalGate)
{
    public const string Namespace = "demo";
    public const int Port = 8080;

    public string Name { get; } = name;
    public string Story { get; } = story;
    public string NewImage { get; } = newImage;
    public string ExpectedPhase { get; } = expectedPhase;
    public bool ApprovalGate { get; } = approvalGate;
    public RolloutTarget Target => new(Namespace, Name);
    public string StableImage => $"demo/{Name}:1.0";

    public DemoWorkload Stable { get; private set; } = null!;
    public DemoWorkload Canary { get; private set; } = null!;

    public static IReadOnlyList<DemoService> All { get; } =
    [
        new("checkout", "a healthy release: 10% → 100%, then promotion", "demo/checkout:2.0", RolloutPhases.Succeeded, false),
        new("payments", "a faulty release (25% errors): analysis fails, rollback", "demo/payments:2.0-faulty", RolloutPhases.Failed, false),
        new("catalog", "a manual gate: waits for approval, a promote message finishes it", "demo/catalog:2.0", RolloutPhases.Succeeded, true),
    ];

    public async Task StartWorkloadsAsync()
    {
        Stable = await DemoWorkload.StartAsync(new DemoWorkloadOptions(Namespace, $"{Name}-primary", Service: Name));
        Canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions(Namespace, Name, Service: Name));
    }

    /// <summary>What an image does when it runs: the demo's stand-in for the code in it.</summary>
    public static WorkloadBehaviour BehaviourOf(string? image) => image switch
    {
        not null when image.Contains("faulty", StringComparison.Ordinal) => new WorkloadBehaviour(ErrorRate: 0.25),
        not null when image.Contains("slow", StringComparison.Ordinal) => new WorkloadBehaviour(Latency: TimeSpan.FromMilliseconds(700)),
        _ => WorkloadBehaviour.Healthy,
    };

    public JsonObject DeploymentManifest() => JsonNode.Parse($$"""
        {
          "apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": { "name": "{{Name}}", "namespace": "{{Namespace}}", "labels": { "app": "{{Name}}" } },
          "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "{{Name}}" } },
            "template": {
              "metadata": { "labels": { "app": "{{Name}}" } },
              "spec": { "containers": [ { "name": "app", "image": "{{StableImage}}", "ports": [ { "containerPort": {{Port}} } ] } ] }
            }
          }
        }
        """)!.AsObject();

    public JsonObject CanaryManifest(TimeSpan interval) => JsonNode.Parse($$"""
        {
          "apiVersion": "canaryflow.dev/v1alpha1", "kind": "Canary",
          "metadata": { "name": "{{Name}}", "namespace": "{{Namespace}}" },
          "spec": {
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "{{Name}}" },
            "service": { "port": {{Port}} },
            "analysis": {
              "interval": "{{(int)interval.TotalSeconds}}s",
              "stepWeight": 10, "maxWeight": 100,
              "failureLimit": 2, "minRequests": 8, "progressDeadlineSeconds": 120,
              "metrics": [
                { "name": "request-success-rate", "thresholdRange": { "min": 95 } },
                { "name": "request-duration", "thresholdRange": { "max": 500 } }
              ],
              "approval": { "beforePromotion": {{(ApprovalGate ? "true" : "false")}} }
            }
          }
        }
        """)!.AsObject();
}
