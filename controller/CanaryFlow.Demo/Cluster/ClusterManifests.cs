using System.Globalization;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Demo.Stories;

namespace CanaryFlow.Demo.Cluster;

/// <summary>
/// What the cluster mode applies. The demo app is podinfo (a public image built for such demos, as in
/// Flagger's tutorials): the release moves it from <see cref="StableImage"/> to <see cref="NewImage"/>, and the
/// faulty release also turns on its <c>--random-error</c> (a third of the answers fail) and
/// <c>--random-delay</c> (0.6–1.2 s) flags. A busybox load generator in the mesh calls each service, so the
/// client sidecar splits its requests by the VirtualService weights and Istio counts them.
/// </summary>
public static class ClusterManifests
{
    public const int Port = 9898;
    public const string StableImage = "ghcr.io/stefanprodan/podinfo:6.7.0";
    public const string NewImage = "ghcr.io/stefanprodan/podinfo:6.7.1";
    public const string LoadGeneratorName = "canaryflow-demo-load";
    public const string LoadGeneratorImage = "busybox:1.36";
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedBy = "canaryflow-demo";
    public const string Fault = "a third of the requests fail, 0.6–1.2 s delays";

    public static readonly string[] HealthyArgs = ["--port=9898", "--level=info"];
    public static readonly string[] FaultyArgs =
        [.. HealthyArgs, "--random-error=true", "--random-delay=true", "--random-delay-unit=ms", "--random-delay-min=600", "--random-delay-max=1200"];

    public static JsonObject Namespace(string ns) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Namespace",
        ["metadata"] = new JsonObject { ["name"] = ns, ["labels"] = new JsonObject { ["istio-injection"] = "enabled", [ManagedByLabel] = ManagedBy } },
    };

    public static JsonObject AppDeployment(string ns, DemoStory story) => JsonNode.Parse($$"""
        {
          "apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": { "name": "{{story.Name}}", "namespace": "{{ns}}", "labels": { "app": "{{story.Name}}", "{{ManagedByLabel}}": "{{ManagedBy}}" } },
          "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "{{story.Name}}" } },
            "template": {
              "metadata": { "labels": { "app": "{{story.Name}}" } },
              "spec": {
                "containers": [ {
                  "name": "podinfo", "image": "{{StableImage}}",
                  "command": [ "./podinfo" ], "args": {{Json(HealthyArgs)}},
                  "ports": [ { "name": "http", "containerPort": {{Port}} } ],
                  "readinessProbe": { "tcpSocket": { "port": {{Port}} }, "periodSeconds": 5 },
                  "resources": { "requests": { "cpu": "10m", "memory": "32Mi" }, "limits": { "memory": "128Mi" } }
                } ]
              }
            }
          }
        }
        """)!.AsObject();

    /// <summary>Selects stable and canary pods alike; the controller's DestinationRule subsets tell them apart.
    /// The port is named "http" so that Istio treats the traffic as HTTP.</summary>
    public static JsonObject AppService(string ns, DemoStory story) => JsonNode.Parse($$"""
        {
          "apiVersion": "v1", "kind": "Service",
          "metadata": { "name": "{{story.Name}}", "namespace": "{{ns}}", "labels": { "app": "{{story.Name}}", "{{ManagedByLabel}}": "{{ManagedBy}}" } },
          "spec": { "selector": { "app": "{{story.Name}}" }, "ports": [ { "name": "http", "port": {{Port}}, "targetPort": {{Port}} } ] }
        }
        """)!.AsObject();

    /// <summary>
    /// One loop per service, each at most <paramref name="requestsPerSecond"/> (one request, then a pause), until
    /// <paramref name="until"/>; then it idles, so a restarted pod cannot run past the demo's end either. The
    /// sidecar is started before the loops (holdApplicationUntilProxyStarts) so that no request bypasses the mesh.
    /// </summary>
    public static JsonObject LoadGenerator(string ns, IEnumerable<DemoStory> stories, int requestsPerSecond, DateTimeOffset until)
    {
        const string script = """
            for t in $TARGETS; do
              ( while [ "$(date +%s)" -lt "$UNTIL" ]; do wget -q -T 3 -O /dev/null "http://$t:$PORT/" 2>/dev/null; sleep "$PAUSE"; done ) &
            done
            wait
            echo "load finished"; exec sleep 2147483647
            """;
        var pause = (1.0 / requestsPerSecond).ToString("0.###", CultureInfo.InvariantCulture);
        return JsonNode.Parse($$"""
            {
              "apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": { "name": "{{LoadGeneratorName}}", "namespace": "{{ns}}", "labels": { "app": "{{LoadGeneratorName}}", "{{ManagedByLabel}}": "{{ManagedBy}}" } },
              "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "{{LoadGeneratorName}}" } },
                "template": {
                  "metadata": {
                    "labels": { "app": "{{LoadGeneratorName}}" },
                    "annotations": { "proxy.istio.io/config": "{ \"holdApplicationUntilProxyStarts\": true }" }
                  },
                  "spec": {
                    "containers": [ {
                      "name": "load", "image": "{{LoadGeneratorImage}}",
                      "command": [ "sh", "-c", {{Json(script)}} ],
                      "env": [
                        { "name": "TARGETS", "value": "{{string.Join(" ", stories.Select(s => s.Name))}}" },
                        { "name": "PORT", "value": "{{Port}}" },
                        { "name": "PAUSE", "value": "{{pause}}" },
                        { "name": "UNTIL", "value": "{{until.ToUnixTimeSeconds()}}" }
                      ],
                      "resources": { "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } }
                    } ]
                  }
                }
              }
            }
            """)!.AsObject();
    }

    /// <summary>The release: a new pod template (new image; the faulty one also gets the fault flags). A JSON patch,
    /// as <c>kubectl patch --type json</c> sends it.</summary>
    public static JsonArray Release(DemoStory story) =>
    [
        JsonPatch.Replace("/spec/template/spec/containers/0/image", NewImage),
        JsonPatch.Replace("/spec/template/spec/containers/0/args", JsonNode.Parse(Json(story.Faulty ? FaultyArgs : HealthyArgs))),
    ];

    /// <summary>"podinfo:6.7.1", plus " (faulty)" when the fault flags are on: what a version runs, for the summary.</summary>
    public static string Describe(string? image, IEnumerable<string>? args) =>
        (image?[(image.LastIndexOf('/') + 1)..] ?? "?") + (args?.Contains("--random-error=true") == true ? " (faulty)" : "");

    private static string Json(object value) => System.Text.Json.JsonSerializer.Serialize(value);
}
