using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// What the real API server's validation of an apps/v1 Deployment says, and the sandbox must say too, since a controller
/// that copies pod templates between Deployments lives by it: the selector must match the pod template's labels, and it
/// cannot change once created (a copy whose selector must change is deleted and made anew). 422 Invalid, worded as the
/// real server words it.
/// </summary>
public static class DeploymentRules
{
    /// <param name="old">The stored Deployment on an update; null on a create.</param>
    public static void Check(string name, JsonObject deployment, JsonObject? old)
    {
        var causes = new List<StatusCause>();
        var selector = deployment["spec"]?["selector"];
        var labels = deployment["spec"]?["template"]?["metadata"]?["labels"] as JsonObject ?? [];
        if ((selector?["matchLabels"] as JsonObject ?? []).Any(l => (string?)labels[l.Key] != (string?)l.Value))
            causes.Add(new("spec.template.metadata.labels", $"Invalid value: {GoMap(labels)}: `selector` does not match template `labels`"));
        if (old is not null && !JsonNode.DeepEquals(old["spec"]?["selector"], selector))
            causes.Add(new("spec.selector", $"Invalid value: v1.LabelSelector{{MatchLabels:{GoMap(selector?["matchLabels"] as JsonObject ?? [])}}}: field is immutable"));
        if (causes.Count > 0) throw ApiError.Invalid(ResourceKinds.Deployments, name, causes);
    }

    private static string GoMap(JsonObject map) =>
        "map[string]string{" + string.Join(", ", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"\"{p.Key}\":\"{(string?)p.Value}\"")) + "}";
}
