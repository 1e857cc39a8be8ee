using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Sharding;

public sealed class CheckTokensTests
{
    private static readonly (Guid, string, long) Check = (Guid.NewGuid(), "analysis", 7);

    [Fact]
    public void A_second_delivery_of_a_running_or_finished_check_is_refused_but_the_same_delivery_may_retry()
    {
        var clock = new FakeTimeProvider();
        var checks = new CheckTokens(clock, TimeSpan.FromSeconds(30));
        Assert.True(checks.TryBegin(Check, delivery: 1));
        Assert.True(checks.TryBegin(Check, delivery: 1)); // another consumer of the same delivery, or a retry of it
        Assert.False(checks.TryBegin(Check, delivery: 2)); // running
        checks.Finished(Check);
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(checks.TryBegin(Check, delivery: 3)); // finished: its result is on its way to the saga
        Assert.True(checks.TryBegin((Check.Item1, "analysis", 8), delivery: 3)); // the next check of the rollout
    }

    [Fact]
    public void A_check_that_failed_or_was_lost_long_ago_may_run_again()
    {
        var clock = new FakeTimeProvider();
        var checks = new CheckTokens(clock, TimeSpan.FromSeconds(30));
        Assert.True(checks.TryBegin(Check, 1));
        checks.Failed(Check);
        Assert.True(checks.TryBegin(Check, 2)); // the failed one went to retries/_error: a copy runs it
        checks.Finished(Check);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(checks.TryBegin(Check, 3)); // the ticker's recovery, after its stall wait: the result was lost
    }

    [Fact]
    public void The_checks_are_analysis_and_hooks_keyed_by_rollout_kind_and_sequence()
    {
        var target = new RolloutTarget("ns", "svc");
        var id = RolloutIds.ForTarget(target);
        var spec = new AnalysisSpec(1, []);
        Assert.Equal((id, "analysis", 3L), CheckTokens.Of(new AnalysisDue(id, Guid.NewGuid(), target, "r", 10, 3, DateTimeOffset.UnixEpoch, TimeSpan.FromMinutes(1), spec)));
        Assert.Equal((id, "confirm-promotion", 4L), CheckTokens.Of(new HooksDue(id, Guid.NewGuid(), target, "r", "confirm-promotion", 4, 10, [], DateTimeOffset.UnixEpoch)));
        Assert.Null(CheckTokens.Of(new AbortRollout(id, target, "user", "why")));
    }
}
