using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Seams;

/// <summary>
/// Seam to the mesh (Istio VirtualService): read, set and verify the canary/stable split of a target.
/// Weights are desired state: setting the same weight twice is a no-op.
/// </summary>
public interface ITrafficRouter
{
    Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken);

    /// <summary>Apply canary = <paramref name="canaryWeight"/>, stable = 100 - canaryWeight; read back and verify.
    /// Returns the weights seen before the change.</summary>
    Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken);

    /// <summary>As <see cref="SetWeightsAsync(RolloutTarget, int, CancellationToken)"/>, and mirror stable's traffic to the
    /// canary (<paramref name="mirror"/>) or stop mirroring. A router that cannot mirror sets the weights only.</summary>
    Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, bool mirror, CancellationToken cancellationToken) =>
        SetWeightsAsync(target, canaryWeight, cancellationToken);
}

public readonly record struct TrafficWeights(int Stable, int Canary);
