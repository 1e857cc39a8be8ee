using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Workloads;

/// <summary>
/// A stable revision id for a pod template: what the user wrote, not what the API server filled in. The
/// server's defaults (restartPolicy, dnsPolicy, terminationMessagePath, ...), empty values and the
/// controller's own track label are removed, keys are sorted, and the result is hashed. So a template that
/// only gains defaults keeps its revision, and any real change (image, env, annotations) gets a new one.
/// </summary>
public static class PodTemplateHash
{
    private static readonly Dictionary<string, JsonNode> PodDefaults = new()
    {
        ["restartPolicy"] = "Always",
        ["terminationGracePeriodSeconds"] = 30,
        ["dnsPolicy"] = "ClusterFirst",
        ["schedulerName"] = "default-scheduler",
    };

    private static readonly Dictionary<string, JsonNode> ContainerDefaults = new()
    {
        ["terminationMessagePath"] = "/dev/termination-log",
        ["terminationMessagePolicy"] = "File",
    };

    public static string Compute(V1PodTemplateSpec? template, string trackLabel)
    {
        var node = JsonNode.Parse(KubernetesJson.Serialize(template ?? new V1PodTemplateSpec())) as JsonObject ?? [];
        if (node["metadata"] is JsonObject meta)
        {
            meta.Remove("creationTimestamp");
            (meta["labels"] as JsonObject)?.Remove(trackLabel);
            (meta["labels"] as JsonObject)?.Remove(PrimaryLabels.TargetLabel);
            (meta["labels"] as JsonObject)?.Remove("pod-template-hash");
        }
        if (node["spec"] is JsonObject pod)
        {
            RemoveDefaults(pod, PodDefaults);
            foreach (var c in (pod["containers"] as JsonArray ?? []).Concat(pod["initContainers"] as JsonArray ?? []).OfType<JsonObject>())
            {
                RemoveDefaults(c, ContainerDefaults);
                if ((string?)c["imagePullPolicy"] == DefaultPullPolicy((string?)c["image"] ?? "")) c.Remove("imagePullPolicy");
            }
        }
        var canonical = Canonical(node)?.ToJsonString() ?? "{}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..10];
    }

    /// <summary>The API server's rule: Always for :latest or no tag, IfNotPresent otherwise.</summary>
    private static string DefaultPullPolicy(string image)
    {
        if (image.Contains('@')) return "IfNotPresent";
        var colon = image.LastIndexOf(':');
        var tagged = colon > image.LastIndexOf('/');
        return tagged && !image.EndsWith(":latest", StringComparison.Ordinal) ? "IfNotPresent" : "Always";
    }

    private static void RemoveDefaults(JsonObject obj, Dictionary<string, JsonNode> defaults)
    {
        foreach (var (key, value) in defaults)
            if (obj[key] is { } actual && JsonNode.DeepEquals(actual, value)) obj.Remove(key);
    }

    /// <summary>Sorted keys, no nulls, no empty objects or arrays.</summary>
    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => o.OrderBy(p => p.Key, StringComparer.Ordinal)
                .Select(p => (p.Key, Value: Canonical(p.Value)))
                .Where(p => p.Value is not null)
                .Aggregate((JsonObject?)null, (acc, p) => { acc ??= []; acc[p.Key] = p.Value; return acc; }),
        JsonArray a => a.Count == 0 ? null : new JsonArray([.. a.Select(x => Canonical(x) ?? new JsonObject())]),
        null => null,
        _ => node.DeepClone(),
    };
}
