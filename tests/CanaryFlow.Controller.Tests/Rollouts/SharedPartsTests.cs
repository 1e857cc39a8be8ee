using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// Issue 15, memory per rollout: rollouts keep one shared instance of their equal parts (plan, namespace, actor,
/// revision, metric names) instead of a deserialised copy each, keep their times compactly, and the ticker forgets
/// rollouts at rest. These prove the sharing, and that it changes nothing that is saved, compared or read back.
/// </summary>
public sealed class SharedPartsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);

    /// <summary>A request as the saga gets it: deserialised from the bus, so its plan is an instance of its own.</summary>
    private static RolloutRequested FromBus(string name, RolloutPlan plan) =>
        JsonSerializer.Deserialize<RolloutRequested>(JsonSerializer.Serialize(TestPlans.Request(new RolloutTarget("shop", name), "v2", plan)))!;

    private static RolloutState Begun(RolloutRequested request)
    {
        var s = new RolloutState { CorrelationId = request.CorrelationId, CurrentState = RolloutPhases.Initializing };
        s.Begin(request, Now);
        return s;
    }

    [Fact]
    public void Two_rollouts_of_equal_plans_share_one_plan_instance()
    {
        var a = FromBus("a", TestPlans.TenToHundred);
        var b = FromBus("b", TestPlans.TenToHundred);
        Assert.NotSame(a.Plan, b.Plan); // two deserialised copies, as the bus delivers them

        var first = Begun(a);
        var second = Begun(b);

        Assert.Same(first.Plan, second.Plan);
        Assert.Same(first.Target.Namespace, second.Target.Namespace);
        Assert.Same(first.Revision, second.Revision);
        Assert.Same(first.RequestedBy, second.RequestedBy);
    }

    [Fact]
    public void Plans_that_differ_in_a_list_or_a_field_are_never_joined()
    {
        var steps = Begun(FromBus("a", TestPlans.Steps(10, 50, 100)));
        var otherSteps = Begun(FromBus("b", TestPlans.Steps(10, 60, 100)));
        var otherMetric = Begun(FromBus("c", TestPlans.Steps(10, 50, 100) with
        {
            Analysis = new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.95)]),
        }));
        var otherHook = Begun(FromBus("d", TestPlans.Steps(10, 50, 100) with
        {
            Hooks = [new HookSpec("gate", HookTypes.ConfirmRollout, "http://127.0.0.1:1/gate", TimeSpan.FromSeconds(5),
                new Dictionary<string, string> { ["team"] = "a" })],
        }));
        var sameHookOtherMetadata = Begun(FromBus("e", otherHook.Plan with
        {
            Hooks = [otherHook.Plan.Hooks![0] with { Metadata = new Dictionary<string, string> { ["team"] = "b" } }],
        }));

        Assert.Equal([10, 50, 100], steps.Plan.Steps);
        Assert.Equal([10, 60, 100], otherSteps.Plan.Steps);
        Assert.Equal(0.95, otherMetric.Plan.Analysis.Metrics[0].Min);
        Assert.Equal("a", otherHook.Plan.Hooks![0].Metadata!["team"]);
        Assert.Equal("b", sameHookOtherMetadata.Plan.Hooks![0].Metadata!["team"]);
        var plans = new[] { steps.Plan, otherSteps.Plan, otherMetric.Plan, otherHook.Plan, sameHookOtherMetadata.Plan };
        Assert.Equal(plans.Length, plans.Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public async Task Rollouts_read_back_from_the_journal_share_their_equal_plan()
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-shared-").FullName;
        try
        {
            var options = Options.Create(new RolloutEngineOptions { StateDirectory = folder });
            using (var store = new FileRolloutStore(options))
                foreach (var name in new[] { "a", "b" })
                {
                    var s = Begun(FromBus(name, TestPlans.TenToHundred));
                    s.Version = 1;
                    await store.SaveAsync(s, 0, CancellationToken.None);
                }

            using var restarted = new FileRolloutStore(options); // parses the journal: a new copy of each plan
            var loaded = await restarted.LoadAllAsync(CancellationToken.None);

            Assert.Equal(2, loaded.Count);
            Assert.Same(loaded[0].Plan, loaded[1].Plan);
            Assert.Equal(TestPlans.TenToHundred.Steps, loaded[0].Plan.Steps);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public async Task A_finished_rollout_kept_in_its_compact_form_still_answers_the_status_API_in_full()
    {
        var folder = Directory.CreateTempSubdirectory("canaryflow-shared-").FullName;
        try
        {
            var options = Options.Create(new RolloutEngineOptions { StateDirectory = folder });
            var s = Begun(FromBus("a", TestPlans.TenToHundred));
            s.CurrentState = RolloutPhases.Progressing;
            s.EnterStep(0, Now, "ready");
            s.WeightApplied(10, Now.AddSeconds(1));
            s.CheckPassed(new AnalysisEvidence("success rate 0.999", [new MetricResult("request-success-rate", 0.999, 0.99, null, "pass")]),
                Now.AddSeconds(61));
            s.BeginPromotion("all steps passed", Now.AddSeconds(62));
            s.Finish(promoted: true, "promoted", Now.AddSeconds(63));
            s.CurrentState = RolloutPhases.Succeeded;
            s.Version = 1;
            using (var store = new FileRolloutStore(options)) await store.SaveAsync(s, 0, CancellationToken.None);

            using var restarted = new FileRolloutStore(options);
            var kept = await restarted.LoadAsync(s.CorrelationId, CancellationToken.None);
            // The status API's view of it, with no timeline in memory (dropped for rollouts finished long ago).
            var view = CanaryFlow.Controller.Web.RolloutsApi.View(kept!, new CanaryFlow.Controller.Web.RolloutHistory(), withHistory: true);

            Assert.Equal(RolloutPhases.Succeeded, view.Phase);
            Assert.Equal("v2", view.Revision);
            Assert.Equal("v2", view.StableRevision);
            Assert.Equal(TestPlans.TenToHundred.Steps, view.Steps);
            Assert.Equal("promoted", view.LastReason);
            Assert.Equal(Now.AddSeconds(63), view.LastTransitionAt);
            Assert.Equal(0.999, view.LastAnalysis!.Metrics.Single().Value);
            Assert.Equal("success rate 0.999", view.LastAnalysis.Summary);
            Assert.Empty(view.History);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Evidence_kept_by_rollouts_shares_metric_names_and_outcomes_and_keeps_every_value()
    {
        var a = Begun(FromBus("a", TestPlans.TenToHundred));
        var b = Begun(FromBus("b", TestPlans.TenToHundred));
        a.CheckPassed(Evidence(0.999), Now);
        b.CheckPassed(Evidence(0.997), Now);

        Assert.Same(a.LastEvidence!.Metrics[0].Name, b.LastEvidence!.Metrics[0].Name);
        Assert.Same(a.LastEvidence.Metrics[0].Outcome, b.LastEvidence.Metrics[0].Outcome);
        Assert.Equal(0.999, a.LastEvidence.Metrics[0].Value);
        Assert.Equal(0.997, b.LastEvidence.Metrics[0].Value);
        // Set again (a store's read, an undo), the evidence stays the same object: the persist filter sees no change.
        var before = a.Clone();
        var kept = a.LastEvidence;
        a.LastEvidence = kept;
        Assert.True(a.SameAs(before));

        static AnalysisEvidence Evidence(double value) => JsonSerializer.Deserialize<AnalysisEvidence>(JsonSerializer.Serialize(
            new AnalysisEvidence($"success rate {value}", [new MetricResult("request-success-rate", value, 0.99, null, "pass")])))!;
    }

    [Fact]
    public void Every_time_of_a_rollout_reads_back_as_the_same_instant_after_a_save()
    {
        var s = Begun(FromBus("a", TestPlans.TenToHundred));
        var elsewhere = new DateTimeOffset(2026, 12, 2, 6, 30, 0, TimeSpan.FromHours(2)); // an offset other than UTC
        s.StepStartedAt = elsewhere.AddTicks(1);
        s.MetricsDownSince = elsewhere;
        s.LastAnalysisAt = null;

        var read = JsonSerializer.Deserialize<RolloutState>(JsonSerializer.Serialize(s))!;

        Assert.Equal(elsewhere.AddTicks(1), read.StepStartedAt);
        Assert.Equal(elsewhere.UtcTicks, read.MetricsDownSince!.Value.UtcTicks);
        Assert.Null(read.LastAnalysisAt);
        Assert.Equal(Now, read.StartedAt);
        Assert.Equal(s.PendingSince, read.PendingSince);
        Assert.True(read.SameAs(s));
        Assert.Equal(JsonSerializer.Serialize(s), JsonSerializer.Serialize(read));
    }

    [Fact]
    public void The_ticker_remembers_nothing_of_a_rollout_at_rest()
    {
        var policy = new TickPolicy(new RolloutEngineOptions(), Now);
        var s = Begun(FromBus("a", TestPlans.TenToHundred));
        s.CurrentState = RolloutPhases.Progressing;
        s.EnterStep(0, Now, "ready");
        s.WeightApplied(10, Now);
        Assert.NotEmpty(policy.Due(s, Now + TestPlans.Interval)); // the check is due: remembered, not said twice
        policy.Retain([s]);
        Assert.Equal(1, policy.Remembered);

        s.BeginPromotion("all steps passed", Now);
        s.Finish(promoted: true, "promoted", Now);
        s.CurrentState = RolloutPhases.Succeeded;
        Assert.Empty(policy.Due(s, Now + TestPlans.Interval * 2));
        policy.Retain([s]);

        Assert.Equal(0, policy.Remembered);
    }
}
