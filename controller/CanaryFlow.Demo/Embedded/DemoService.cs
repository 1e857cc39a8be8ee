using System.Text.Json.Nodes;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Demo.Embedded;

/// <summary>One story of the embedded demo: its images and the two processes (stable and canary pods) that
/// serve its traffic and export Istio-style metrics.</summary>
public sealed class DemoService(DemoStory story)
{
    public const string Namespace = "demo";
    public const int Port = 8080;
    public const string Fault = "25% errors";

    public static CanaryTuning Tuning(TimeSpan interval) => new(interval, StepWeight: 10, MinRequests: 8, ProgressDeadlineSeconds: 120);

    public DemoStory Story { get; } = story;
    public string Name => Story.Name;
    public string NewImage => Story.Faulty ? $"demo/{Name}:2.0-faulty" : $"demo/{Name}:2.0";
    public string StableImage => $"demo/{Name}:1.0";

    public DemoWorkload Stable { get; private set; } = null!;
    public DemoWorkload Canary { get; private set; } = null!;

    public static IReadOnlyList<DemoService> All { get; } = DemoStory.All.Select(s => new DemoService(s)).ToList();

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

    public JsonObject CanaryManifest(TimeSpan interval) => Story.CanaryManifest(Namespace, Port, Tuning(interval));
}
