using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Tests.Rollouts;

public static class TestPlans
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    public static RolloutPlan Steps(params int[] steps) => new(
        steps, Interval, FailureLimit: 2, InconclusiveLimit: 0, ErrorLimit: 0, ProgressDeadline: TimeSpan.FromMinutes(30),
        ApprovalAtWeights: [], ApprovalBeforePromotion: false,
        new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.99)]));

    public static RolloutPlan TenToHundred => Steps(10, 20, 30, 40, 50, 60, 70, 80, 90, 100);

    public static RolloutRequested Request(RolloutTarget target, string revision, RolloutPlan plan) => new(
        RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, revision), target, revision, $"app:{revision}", plan,
        "test", "new revision", DateTimeOffset.UnixEpoch);
}
