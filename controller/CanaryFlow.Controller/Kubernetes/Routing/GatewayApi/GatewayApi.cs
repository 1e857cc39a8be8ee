using CanaryFlow.Controller.Kubernetes.Api;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>Where the Gateway API's HTTPRoute lives, and which Canaries route through it.</summary>
public static class GatewayApi
{
    public const string Group = "gateway.networking.k8s.io";
    public const string Version = "v1";
    public const string ApiVersion = Group + "/" + Version;
    public const string HttpRoutes = "httproutes";

    /// <summary><c>spec.provider</c> values (Flagger's names): Istio VirtualService (the default) or Gateway API HTTPRoute.</summary>
    public const string IstioProvider = "istio";
    public const string Provider = "gatewayapi";

    /// <summary>True when this Canary's traffic is split by an HTTPRoute instead of an Istio VirtualService.</summary>
    public static bool UsesGatewayApi(this CanaryContext ctx) => ctx.Canary.Spec?.Provider == Provider;

    /// <summary>The HTTPRoute CanaryFlow creates for the Canary: named as the target, as the VirtualService is.</summary>
    public static string RouteName(this CanaryContext ctx) => ctx.Target.Name;

    /// <summary>Gateway API routes to Services, not to subsets: one Service per side, as Flagger creates them.</summary>
    public static string StableService(this CanaryContext ctx) => ctx.ServiceName + "-primary";

    public static string CanaryService(this CanaryContext ctx) => ctx.ServiceName + "-canary";
}
