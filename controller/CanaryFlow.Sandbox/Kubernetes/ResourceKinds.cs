namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>One REST resource the sandbox serves: where it lives in the URL space and how it behaves.</summary>
/// <param name="Group">API group; "" for the core group (served under /api/v1).</param>
/// <param name="HasStatus">True when the kind has a status subresource: the main endpoint then ignores status changes.</param>
public sealed record ResourceKind(string Group, string Version, string Plural, string Kind, bool HasStatus, bool Namespaced = true)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>"Deployment.apps", as the real server names a kind in a 422's message.</summary>
    public string GroupKind => Group.Length == 0 ? Kind : $"{Kind}.{Group}";

    /// <summary>"deployments.apps", as the real server names a resource in its messages.</summary>
    public string QualifiedName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
}

/// <summary>The resources a CanaryFlow controller uses; nothing else is served (404 like an unknown resource).</summary>
public static class ResourceKinds
{
    public const string CanaryGroup = "canaryflow.dev";
    public const string CanaryVersion = "v1alpha1";

    public static readonly ResourceKind Deployments = new("apps", "v1", "deployments", "Deployment", HasStatus: true);
    public static readonly ResourceKind Services = new("", "v1", "services", "Service", HasStatus: true);
    public static readonly ResourceKind Events = new("", "v1", "events", "Event", HasStatus: false);
    public static readonly ResourceKind EventsV1 = new("events.k8s.io", "v1", "events", "Event", HasStatus: false);
    public static readonly ResourceKind Leases = new("coordination.k8s.io", "v1", "leases", "Lease", HasStatus: false);
    public static readonly ResourceKind Canaries = new(CanaryGroup, CanaryVersion, "canaries", "Canary", HasStatus: true);
    public static readonly ResourceKind MetricTemplates = new(CanaryGroup, CanaryVersion, "metrictemplates", "MetricTemplate", HasStatus: false);
    public static readonly ResourceKind ClusterMetricTemplates = new(CanaryGroup, CanaryVersion, "clustermetrictemplates", "ClusterMetricTemplate", HasStatus: false, Namespaced: false);
    /// <summary>Read by the controller for a metric template's Prometheus token.</summary>
    public static readonly ResourceKind Secrets = new("", "v1", "secrets", "Secret", HasStatus: false);
    public static readonly ResourceKind VirtualServices = new("networking.istio.io", "v1beta1", "virtualservices", "VirtualService", HasStatus: true);
    public static readonly ResourceKind DestinationRules = new("networking.istio.io", "v1beta1", "destinationrules", "DestinationRule", HasStatus: true);
    /// <summary>autoscaling/v2, as the real server serves it; <see cref="AutoscalerSimulator"/> plays its controller.</summary>
    public static readonly ResourceKind HorizontalPodAutoscalers = new("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", HasStatus: true);
    public static readonly ResourceKind HttpRoutes = new("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", HasStatus: true);
    /// <summary>Cluster-scoped; deleting one deletes everything in it (at once here; the real server passes through Terminating).</summary>
    public static readonly ResourceKind Namespaces = new("", "v1", "namespaces", "Namespace", HasStatus: true, Namespaced: false);

    public static readonly IReadOnlyList<ResourceKind> All =
        [Deployments, Services, Events, EventsV1, Leases, Canaries, MetricTemplates, ClusterMetricTemplates, Secrets, VirtualServices, DestinationRules, HttpRoutes, HorizontalPodAutoscalers, Namespaces];

    public static ResourceKind? Find(string group, string version, string plural) =>
        All.FirstOrDefault(k => k.Group == group && k.Version == version && k.Plural == plural);
}
