using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// The defaults the real API server fills into a Deployment, so that clients see what they would see on a
/// cluster (and a controller hashing a pod template must learn to ignore them).
/// </summary>
public static class Defaults
{
    public static void Apply(ResourceKind kind, JsonObject obj)
    {
        if (kind == ResourceKinds.Namespaces) { ApplyNamespace(obj); return; }
        if (kind != ResourceKinds.Deployments || obj["spec"] is not JsonObject spec) return;
        spec["replicas"] ??= 1;
        spec["revisionHistoryLimit"] ??= 10;
        spec["progressDeadlineSeconds"] ??= 600;
        spec["strategy"] ??= new JsonObject
        {
            ["type"] = "RollingUpdate",
            ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = "25%", ["maxSurge"] = "25%" },
        };
        if (spec["template"]?["spec"] is not JsonObject pod) return;
        pod["restartPolicy"] ??= "Always";
        pod["terminationGracePeriodSeconds"] ??= 30;
        pod["dnsPolicy"] ??= "ClusterFirst";
        pod["securityContext"] ??= new JsonObject();
        pod["schedulerName"] ??= "default-scheduler";
        foreach (var container in pod["containers"] as JsonArray ?? [])
        {
            if (container is not JsonObject c) continue;
            c["terminationMessagePath"] ??= "/dev/termination-log";
            c["terminationMessagePolicy"] ??= "File";
            c["resources"] ??= new JsonObject();
            foreach (var port in c["ports"] as JsonArray ?? []) if (port is JsonObject p) p["protocol"] ??= "TCP";
            var image = (string?)c["image"] ?? "";
            c["imagePullPolicy"] ??= image.Contains('@') || (image.Contains(':') && !image.EndsWith(":latest", StringComparison.Ordinal)
                                                              && image.LastIndexOf(':') > image.LastIndexOf('/'))
                ? "IfNotPresent" : "Always";
        }
    }

    private static void ApplyNamespace(JsonObject ns)
    {
        var meta = (JsonObject)ns["metadata"]!;
        if (meta["labels"] is not JsonObject labels) meta["labels"] = labels = [];
        labels["kubernetes.io/metadata.name"] = (string?)meta["name"];
        ns["spec"] ??= new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
        ns["status"] ??= new JsonObject { ["phase"] = "Active" };
    }
}
