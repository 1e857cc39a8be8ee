using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;

/// <summary>
/// The <see cref="ITrafficRouter"/> the workers see: each call goes to the router of the Canary's <c>spec.provider</c>
/// (Istio VirtualService by default, Gateway API HTTPRoute for <c>gatewayapi</c>). The saga knows nothing of providers.
/// </summary>
public sealed class ProviderTrafficRouter(CanaryApi api, KubernetesTrafficRouter istio, GatewayApiTrafficRouter gateway) : ITrafficRouter
{
    public async Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) =>
        await (await RouterForAsync(target, cancellationToken)).GetWeightsAsync(target, cancellationToken);

    public Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken) =>
        SetWeightsAsync(target, canaryWeight, mirror: false, cancellationToken);

    public async Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, bool mirror, CancellationToken cancellationToken) =>
        await (await RouterForAsync(target, cancellationToken)).SetWeightsAsync(target, canaryWeight, mirror, cancellationToken);

    private async Task<ITrafficRouter> RouterForAsync(RolloutTarget target, CancellationToken ct) =>
        (await api.ResolveAsync(target, ct)).UsesGatewayApi() ? gateway : istio;
}
