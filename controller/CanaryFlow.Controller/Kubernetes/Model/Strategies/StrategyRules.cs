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

        var a = spec.Analysis;
        if (a?.Match is { Count: > 0 })
        {
            if (a.Iterations is null) errors.Add("spec.analysis.match (A/B testing) needs iterations: how many checks before promotion");
            if (a.StepWeight is not null || a.MaxWeight is not null || a.Steps is { Count: > 0 })
                errors.Add("spec.analysis.match (A/B testing) sends every matching request to the canary: no stepWeight, maxWeight or steps");
            if (a.Approval?.AtWeights is { Count: > 0 }) errors.Add("spec.analysis.approval.atWeights has no meaning for A/B testing: use beforePromotion");
        }
        else if (a?.Iterations is not null) errors.Add("spec.analysis.iterations needs match (A/B testing)");
        if (a?.Mirror is { } mirror)
        {
            if (provider != Routing.GatewayApi.GatewayApi.IstioProvider) errors.Add("spec.analysis.mirror needs provider istio");
            if (a.Match is { Count: > 0 }) errors.Add("spec.analysis.mirror and spec.analysis.match are separate strategies: give one");
            if (mirror.Iterations is not (>= 1 and <= 1000)) errors.Add($"spec.analysis.mirror.iterations must be 1..1000, got {mirror.Iterations?.ToString() ?? "none"}");
            if (mirror.Percentage is <= 0 or > 100) errors.Add($"spec.analysis.mirror.percentage must be above 0 and at most 100, got {mirror.Percentage}");
        }
        if (a?.BlueGreen == true)
        {
            if (a.Mirror is null) errors.Add("spec.analysis.blueGreen analyses mirrored traffic: it needs spec.analysis.mirror");
            if (a.StepWeight is not null || a.MaxWeight is not null || a.Steps is { Count: > 0 })
                errors.Add("spec.analysis.blueGreen switches 0 → 100 at once: no stepWeight, maxWeight or steps");
        }
        if (a?.SessionAffinity is { } affinity)
        {
            if (provider != Routing.GatewayApi.GatewayApi.IstioProvider || a.Match is { Count: > 0 })
                errors.Add("spec.analysis.sessionAffinity works with canary steps on Istio (not with match or provider gatewayapi)");
            if (affinity.CookieName is not { Length: > 0 } name || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
                errors.Add($"spec.analysis.sessionAffinity.cookieName must be letters, digits, - or _, got \"{affinity.CookieName}\"");
            if (affinity.MaxAge is < 1) errors.Add($"spec.analysis.sessionAffinity.maxAge must be positive, got {affinity.MaxAge}");
        }
        if (a?.Iterations is < 1 or > 1000) errors.Add($"spec.analysis.iterations must be 1..1000, got {a.Iterations}");
    }

    /// <summary>The weights in order: A/B is <c>iterations</c> steps at 100% of the matching requests; otherwise the canary steps.</summary>
    /// Mirroring puts its steps at weight 0 first; blue/green is those, then one switch to 100.
    public static List<int> Steps(CanarySpec spec, List<int> canarySteps) => spec.Analysis switch
    {
        { Match.Count: > 0, Iterations: { } n and > 0 } => [.. Enumerable.Repeat(100, n)],
        { Mirror.Iterations: { } m and > 0, BlueGreen: true } => [.. Enumerable.Repeat(0, m), 100],
        { Mirror.Iterations: { } m and > 0 } => [.. Enumerable.Repeat(0, m), .. canarySteps],
        _ => canarySteps,
    };

    public static int MirrorSteps(CanarySpec spec) => spec.Analysis?.Mirror?.Iterations is { } m and > 0 ? m : 0;

    /// <summary>The strategy and router in words, as the status page, the CLI and notifications show them; an
    /// autoscalerRef is named after it (the primary's HPA is a copy of that one).</summary>
    public static string Describe(CanarySpec spec) =>
        spec.AutoscalerRef?.Name is { Length: > 0 } hpa ? $"{DescribeStrategy(spec)}, HPA {hpa} (primary: {hpa}-primary)" : DescribeStrategy(spec);

    private static string DescribeStrategy(CanarySpec spec)
    {
        var router = spec.Provider == Routing.GatewayApi.GatewayApi.Provider ? "Gateway API HTTPRoute" : "Istio";
        var mirrorShare = spec.Analysis?.Mirror?.Percentage ?? 100;
        if (spec.Analysis is { BlueGreen: true, Mirror: { } bg })
            return $"Blue/green ({router}): {bg.Iterations} iterations on {mirrorShare}% mirrored traffic, then 0 → 100";
        if (spec.Analysis?.Mirror is { } m)
            return $"Canary ({router}) after {m.Iterations} iterations on {mirrorShare}% mirrored traffic";
        return spec.Analysis is { Match.Count: > 0 } a
            ? $"A/B testing ({router}): {a.Iterations} iterations on matching requests, then promotion"
            : spec.Analysis?.SessionAffinity is { CookieName: { } cookie }
                ? $"Canary ({router}) with session affinity (cookie {cookie})"
                : $"Canary ({router})";
    }
}
