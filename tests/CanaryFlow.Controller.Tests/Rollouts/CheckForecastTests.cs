using CanaryFlow.Analysis.Batching;
using CanaryFlow.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>The ticker tells the analysis when each rollout's next check is due, so the batched query of one grid point
/// names the workloads due there and no others (issue 15: every grid point named every workload checked lately).</summary>
public sealed class CheckForecastTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task A_progressing_rollouts_workloads_are_named_at_the_grid_point_of_its_next_check_and_not_at_others()
    {
        var interest = new WorkloadInterest();
        await using var e = await EngineUnderTest.StartAsync(extra: (services, _) => services.AddSingleton(interest));
        await e.Request(Target, "v2", TestPlans.Steps(10, 100));
        var s = await e.Until(Target, s => s.CurrentState == RolloutPhases.Progressing && s.NextAnalysisAt != null, "the first check scheduled");
        var due = s.NextAnalysisAt!.Value;

        await e.Tick(TimeSpan.Zero);

        var now = e.Clock.GetUtcNow();
        Assert.Equal(["checkout", "checkout-primary"], interest.WantedAt("shop", now, due, Window).Values.Order());
        Assert.Empty(interest.WantedAt("shop", now, due + Window, Window).Values);
        Assert.Empty(interest.WantedAt("shop", now, due - Window, Window).Values);
    }
}
