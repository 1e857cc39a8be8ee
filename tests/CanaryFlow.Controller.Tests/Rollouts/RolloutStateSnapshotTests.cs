using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// The persist filter decides "nothing changed, nothing to save" with <see cref="RolloutState.SameAs"/> on a
/// <see cref="RolloutState.Clone"/> taken before the message (it used to compare two JSON texts). These prove that
/// the cheap way sees every change the JSON way saw, for every stored field, including fields added later.
/// </summary>
public sealed class RolloutStateSnapshotTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static RolloutState Running()
    {
        var target = new RolloutTarget("shop", "checkout");
        var request = new RolloutRequested(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, "v2"), target, "v2", "img:2",
            TestPlans.TenToHundred, "test", "release", Now);
        var s = new RolloutState { CorrelationId = request.CorrelationId, CurrentState = RolloutPhases.Progressing };
        s.Begin(request, Now);
        s.EnterStep(0, Now, "ready");
        s.WeightApplied(10, Now);
        s.CheckPassed(new AnalysisEvidence("ok", [new MetricResult("request-success-rate", 1, 0.99, null, "pass")]), Now);
        return s;
    }

    /// <summary>A value of the property's type that differs from <paramref name="current"/>.</summary>
    private static object? Other(Type type, object? current) => type switch
    {
        _ when type == typeof(string) => (string?)current + "x",
        _ when type == typeof(Guid) => Guid.NewGuid(),
        _ when type == typeof(int) => (int)current! + 1,
        _ when type == typeof(long) => (long)current! + 1,
        _ when type == typeof(bool) => !(bool)current!,
        _ when type == typeof(DateTimeOffset) => ((DateTimeOffset)current!).AddSeconds(1),
        _ when type == typeof(DateTimeOffset?) => ((DateTimeOffset?)current ?? Now).AddSeconds(1),
        _ when type == typeof(RolloutTarget) => new RolloutTarget("other", "other"),
        _ when type == typeof(RolloutPlan) => TestPlans.TenToHundred with { FailureLimit = 99 },
        _ when type == typeof(AnalysisEvidence) => new AnalysisEvidence("changed", []),
        _ when type == typeof(RolloutRequested) => new RolloutRequested(Guid.NewGuid(), Guid.NewGuid(), new RolloutTarget("a", "b"), "v9", null,
            TestPlans.TenToHundred, "x", "y", Now),
        _ => throw new InvalidOperationException($"RolloutState has a field of a type this test does not know: {type}. Add it here."),
    };

    [Fact]
    public void A_change_to_any_stored_field_is_seen_as_a_change()
    {
        var fields = typeof(RolloutState).GetProperties().Where(p => p.CanRead && p.CanWrite).ToList();
        Assert.True(fields.Count > 30);
        foreach (var field in fields)
        {
            var state = Running();
            var before = state.Clone();
            field.SetValue(state, Other(field.PropertyType, field.GetValue(state)));
            Assert.False(state.SameAs(before), $"a change to {field.Name} went unseen");
            Assert.NotEqual(JsonSerializer.Serialize(before), JsonSerializer.Serialize(state)); // the change is one the store would save
        }
    }

    [Fact]
    public void A_message_that_changes_nothing_is_seen_as_no_change()
    {
        var state = Running();
        var before = state.Clone();
        Assert.False(state.IsCurrentCheck(state.AnalysisSequence - 1)); // a stale verdict: the machine only reads
        Assert.True(state.SameAs(before));
    }

    [Fact]
    public void Undoing_a_failed_save_restores_exactly_the_state_before_the_message()
    {
        var state = Running();
        var before = state.Clone();
        var json = JsonSerializer.Serialize(state);
        state.CheckFailed(new AnalysisEvidence("5xx", []), Now.AddSeconds(1));
        state.BeginRollback("breach", Now.AddSeconds(1));
        Assert.False(state.SameAs(before));

        state.CopyFrom(before);

        Assert.True(state.SameAs(before));
        Assert.Equal(json, JsonSerializer.Serialize(state));
    }

    [Fact]
    public void A_snapshot_does_not_follow_later_changes_of_the_rollout()
    {
        var state = Running();
        var snapshot = state.Clone();
        var json = JsonSerializer.Serialize(snapshot);
        state.CheckPassed(new AnalysisEvidence("again", []), Now.AddSeconds(2));
        state.EnterStep(1, Now.AddSeconds(2), "next");
        Assert.Equal(json, JsonSerializer.Serialize(snapshot));
    }
}
