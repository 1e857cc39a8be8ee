using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Seams;

/// <summary>Seam to the workloads (Kubernetes Deployments): canary readiness, promotion, scale-down.</summary>
public interface IWorkloadController
{
    /// <summary>Ensure the stable Deployment and routing exist and the canary runs <paramref name="revision"/>;
    /// wait until the canary is available or its progress deadline passes.</summary>
    Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken);

    /// <summary>Copy the canary's pod template to the stable Deployment and wait until it is rolled out and available.
    /// Does not touch traffic.</summary>
    Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken);

    Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken);
}

public sealed record WorkloadResult(bool Succeeded, string Reason)
{
    public static readonly WorkloadResult Ok = new(true, "ok");
    public static WorkloadResult Failed(string reason) => new(false, reason);
}
