using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Seams;

/// <summary>Seam to the workloads (Kubernetes Deployments): canary readiness, promotion, scale-down.</summary>
public interface IWorkloadController
{
    /// <summary>Ensure the stable Deployment and routing exist and the canary runs <paramref name="revision"/>, and say
    /// whether the canary is available. Never waits for it: while it rolls out the answer is <see cref="WorkloadResult.InProgress"/>
    /// (the caller asks again; an idempotent call resumes where the last one was).</summary>
    Task<WorkloadResult> PrepareCanaryAsync(RolloutTarget target, string revision, CancellationToken cancellationToken);

    /// <summary>Copy the canary's pod template to the stable Deployment and say whether it is rolled out and available
    /// (<see cref="WorkloadResult.InProgress"/> while not yet, as above). Does not touch traffic.</summary>
    Task<WorkloadResult> PromoteStableAsync(RolloutTarget target, string revision, CancellationToken cancellationToken);

    Task ScaleCanaryToZeroAsync(RolloutTarget target, CancellationToken cancellationToken);
}

/// <param name="WaitUpTo">Set when the work is under way (a Deployment rolling out): how long it may take, counted from
/// its first application, before it counts as failed.</param>
public sealed record WorkloadResult(bool Succeeded, string Reason, TimeSpan? WaitUpTo = null)
{
    public static readonly WorkloadResult Ok = new(true, "ok");
    public static WorkloadResult Failed(string reason) => new(false, reason);
    /// <summary>Applied, not available yet: ask again later (issue 15: a worker that waited for it inside the message held
    /// one of its partition's consumer slots for the whole roll-out, and checks queued behind it).</summary>
    public static WorkloadResult NotYet(string reason, TimeSpan waitUpTo) => new(false, reason, waitUpTo);

    public bool InProgress => WaitUpTo is not null;
}
