using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Demo.Embedded;

/// <summary>
/// The fifth story: a healthy release of a service that has a HorizontalPodAutoscaler (<c>spec.autoscalerRef</c>).
/// CanaryFlow gives <c>inventory-primary</c> its own copy of the HPA, so the stable version keeps autoscaling while the
/// target's HPA scales only the canary; the primary's pods carry <c>app: inventory-primary</c>, outside the target's
/// selector. Its users are the simulated mesh's, like the first three stories'.
/// </summary>
public static class AutoscaledStory
{
    public static DemoStory Story { get; } = new("inventory", RolloutPhases.Succeeded, ApprovalGate: false, Faulty: false);

    private const string Hpa = "inventory-hpa";
    private const int MinReplicas = 2, MaxReplicas = 4;

    public static string Describe => $"a healthy release of a service with an HPA ({MinReplicas}–{MaxReplicas} replicas): the primary gets its own copy";

    /// <summary>The user's HPA on the target, as they would have it before adopting CanaryFlow.</summary>
    public static JsonObject AutoscalerManifest() => JsonNode.Parse($$"""
        {
          "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
          "metadata": { "name": "{{Hpa}}", "namespace": "{{DemoService.Namespace}}" },
          "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "{{Story.Name}}" },
            "minReplicas": {{MinReplicas}}, "maxReplicas": {{MaxReplicas}},
            "metrics": [ { "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 70 } } } ]
          }
        }
        """)!.AsObject();

    public static JsonObject CanaryManifest(DemoService service, TimeSpan interval)
    {
        var canary = service.CanaryManifest(interval);
        canary["spec"]!["autoscalerRef"] = new JsonObject { ["apiVersion"] = "autoscaling/v2", ["kind"] = "HorizontalPodAutoscaler", ["name"] = Hpa };
        return canary;
    }

    /// <summary>What the primary's own HPA says once the story has ended; null (and the demo fails) if it is missing or
    /// does not scale the primary with the user's bounds.</summary>
    public static string? PrimaryAutoscaler(ObjectStore store)
    {
        var copy = store.List(ResourceKinds.HorizontalPodAutoscalers, DemoService.Namespace, LabelSelector.Parse(null), $"{Hpa}-primary").Items.FirstOrDefault();
        var spec = copy?["spec"];
        var scales = (string?)spec?["scaleTargetRef"]?["name"];
        return scales == $"{Story.Name}-primary" && (int?)spec?["minReplicas"] == MinReplicas && (int?)spec?["maxReplicas"] == MaxReplicas
            ? $"{Hpa}-primary scales {scales} ({MinReplicas}–{MaxReplicas} replicas); {Hpa} stays on {Story.Name}, the canary"
            : null;
    }
}
