using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>One API permission: verb on group/resource[/subresource].</summary>
public sealed record Permission(string Group, string Resource, string Verb, string? Subresource = null)
{
    public override string ToString() => $"{Verb} {Resource}{(Subresource is null ? "" : "/" + Subresource)}{(Group == "" ? "" : "." + Group)}";
}

/// <summary>
/// Every call the controller makes to the Kubernetes API (from its KubernetesClient calls: Kubernetes/Api, Watch,
/// Workloads, Routing (Istio and Gateway API), Status, Deletion, Leadership). The chart's ClusterRole must allow each; the whole-rollout tests
/// prove under that role's token that nothing beyond them is needed.
/// </summary>
public static class ControllerPermissions
{
    public static readonly IReadOnlyList<Permission> Required =
    [
        .. Verbs("canaryflow.dev", "canaries", "get", "list", "watch", "patch"), // spec, watch, finalizer (JSON patch)
        .. Verbs("canaryflow.dev", "canaries", "update", "patch").Select(p => p with { Subresource = "status" }), // durable rollout state
        .. Verbs("canaryflow.dev", "metrictemplates", "get"), .. Verbs("canaryflow.dev", "clustermetrictemplates", "get"), // templateRef
        .. Verbs("apps", "deployments", "get", "list", "watch", "create", "update", "patch", "delete"), // target and -primary
        .. Verbs("networking.istio.io", "virtualservices", "get", "create", "patch", "delete"),
        .. Verbs("networking.istio.io", "destinationrules", "get", "create", "patch", "delete"),
        .. Verbs("gateway.networking.k8s.io", "httproutes", "get", "create", "patch", "delete"), // spec.provider: gatewayapi
        .. Verbs("", "services", "get", "create", "update", "delete"), // the generated Service (or the selector of yours); the Gateway API's stable/canary Services
        .. Verbs("autoscaling", "horizontalpodautoscalers", "get", "list", "create", "update", "delete"), // spec.autoscalerRef: <hpa>-primary (copies found by label)
        .. Verbs("", "events", "create"),
        .. Verbs("coordination.k8s.io", "leases", "get", "create", "update", "patch"), // leader election
    ];

    /// <summary>Whether the client's own identity may make the call, in the namespace "shop" (the API server's answer).</summary>
    public static async Task<bool> AllowedAsync(k8s.IKubernetes client, Permission p)
    {
        var review = await client.AuthorizationV1.CreateSelfSubjectAccessReviewAsync(new k8s.Models.V1SelfSubjectAccessReview
        {
            Spec = new k8s.Models.V1SelfSubjectAccessReviewSpec
            {
                ResourceAttributes = new k8s.Models.V1ResourceAttributes
                    { Group = p.Group, Resource = p.Resource, Subresource = p.Subresource, Verb = p.Verb, NamespaceProperty = "shop" },
            },
        });
        return review.Status.Allowed;
    }

    private static IEnumerable<Permission> Verbs(string group, string resource, params string[] verbs) => verbs.Select(v => new Permission(group, resource, v));
}
