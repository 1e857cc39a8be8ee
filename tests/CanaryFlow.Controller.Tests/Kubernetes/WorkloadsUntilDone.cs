using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>A preparation or promotion asked again while its Deployment rolls out, as the ticker does (the workload
/// controller never waits itself), for tests that drive the adapters directly and want the end of the work.</summary>
public static class WorkloadsUntilDone
{
    public static Task<WorkloadResult> PrepareUntilDoneAsync(this IWorkloadController workloads, RolloutTarget target, string revision, CancellationToken ct) =>
        AskUntilDoneAsync(() => workloads.PrepareCanaryAsync(target, revision, ct), ct);

    public static Task<WorkloadResult> PromoteUntilDoneAsync(this IWorkloadController workloads, RolloutTarget target, string revision, CancellationToken ct) =>
        AskUntilDoneAsync(() => workloads.PromoteStableAsync(target, revision, ct), ct);

    /// <summary>Bounded: after a minute the last "not yet" is returned.</summary>
    private static async Task<WorkloadResult> AskUntilDoneAsync(Func<Task<WorkloadResult>> ask, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = await ask();
            if (!result.InProgress || attempt >= 600) return result;
            await Task.Delay(100, ct);
        }
    }
}
