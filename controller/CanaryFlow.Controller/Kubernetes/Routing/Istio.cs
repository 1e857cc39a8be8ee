namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>Where Istio's networking resources live in the API.</summary>
public static class Istio
{
    public const string Group = "networking.istio.io";
    public const string Version = "v1beta1";
    public const string ApiVersion = Group + "/" + Version;
    public const string VirtualServices = "virtualservices";
    public const string DestinationRules = "destinationrules";
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedBy = "canaryflow";
}
