using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>
/// A preparation or promotion whose writes are applied while its Deployment is not available yet. The worker does not
/// wait for it inside the message (issue 15: such waits held a quarter of each partition's consumer slots, and checks
/// and saga events queued behind them for minutes); it returns, and the ticker sends the command again, carrying when
/// it was first applied. So the deadline counts from the controller's first application, not from when the command
/// was queued, and a controller killed meanwhile resumes from the stored instant.
/// </summary>
internal static class WorkUnderWay
{
    /// <summary>The first time, tells the rollout when the work was applied; later, once the work's deadline has passed since
    /// then, returns why it failed. Null while it may still finish.</summary>
    public static async Task<string?> PastDeadlineAsync(ConsumeContext context, Guid correlationId, Guid rolloutId, long sequence,
        DateTimeOffset? appliedAt, WorkloadResult result, DateTimeOffset now)
    {
        var waitUpTo = result.WaitUpTo ?? TimeSpan.Zero;
        if (appliedAt is not { } since)
        {
            await context.Publish(new WorkApplied(correlationId, rolloutId, sequence, result.Reason, now), context.CancellationToken);
            return null;
        }
        return now >= since + waitUpTo ? $"{result.Reason}; still so {waitUpTo.TotalSeconds:0.#}s after it was applied at {since:u}" : null;
    }
}
