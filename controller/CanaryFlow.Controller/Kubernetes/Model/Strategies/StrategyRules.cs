namespace CanaryFlow.Controller.Kubernetes.Model.Strategies;

/// <summary>
/// The checks on a Canary's delivery strategy and router that the CRD's CEL rules also make at admission, repeated
/// here for clusters without the schema (and for specs that slipped past it): each becomes an error, never a throw.
/// </summary>
public static class StrategyRules
{
    public static void Check(CanarySpec spec, List<string> errors)
    {
        var provider = spec.Provider ?? Routing.GatewayApi.GatewayApi.IstioProvider;
        if (provider is not (Routing.GatewayApi.GatewayApi.IstioProvider or Routing.GatewayApi.GatewayApi.Provider))
            errors.Add($"spec.provider must be istio or gatewayapi, got \"{spec.Provider}\"");
        else if (provider == Routing.GatewayApi.GatewayApi.Provider)
        {
            if (spec.VirtualService is not null || spec.DestinationRule is not null)
                errors.Add("spec.virtualService and spec.destinationRule are Istio's: not with provider gatewayapi");
            if (spec.Service?.Gateways is { Count: > 0 })
                errors.Add("spec.service.gateways names Istio gateways: with provider gatewayapi use spec.service.gatewayRefs");
        }
        else if (spec.Service?.GatewayRefs is { Count: > 0 })
            errors.Add("spec.service.gatewayRefs needs provider gatewayapi");
        foreach (var (r, i) in (spec.Service?.GatewayRefs ?? []).Select((r, i) => (r, i)))
            if (string.IsNullOrWhiteSpace(r.Name)) errors.Add($"spec.service.gatewayRefs[{i}].name is required");
    }
}
