using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// A step's weight is written inside the saga's own message (<see cref="ShiftWeightActivity"/>), not by a command to a
/// worker and its reply; a failed write falls back to the worker; a failed save repeats the write, never a step.
/// </summary>
public sealed class SagaWeightWriteTests
{
    private static readonly RolloutTarget Target = new("shop", "weights");

    private static Task<RolloutState> AtWeight(EngineUnderTest e, int weight) =>
        e.Until(Target, s => s.AppliedWeight == weight && s.Pending == null && s.NextAnalysisAt != null, $"canary at {weight}%");

    [Fact]
    public async Task Passing_steps_move_the_weight_without_a_weight_command_or_its_reply()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);
        await e.Tick();
        var s = await AtWeight(e, 20);

        Assert.Equal([10, 20], e.World[Target].AppliedWeights);
        Assert.False(await e.Harness.Published.Any<SetCanaryWeight>(), "a weight command was sent");
        Assert.False(await e.Harness.Published.Any<TrafficShifted>(), "a worker replied with TrafficShifted");
        Assert.StartsWith("analysis passed; step 2/", s.LastReason); // the announcement says why the weight moved
        Assert.True(await e.Harness.Published.Any<RolloutTransitioned>(x => x.Context.Message.CanaryWeight == 20 && x.Context.Message.Reason.StartsWith("analysis passed")));
    }

    [Fact]
    public async Task A_weight_write_that_fails_in_the_saga_is_handed_to_the_weight_worker()
    {
        var world = new InMemoryWorld();
        var router = new FailingRouter(world, failures: 1);
        await using var e = await EngineUnderTest.StartAsync(world, extra: (services, _) => services.AddSingleton<ITrafficRouter>(router));
        await e.Request(Target, "v2", TestPlans.TenToHundred);

        var s = await AtWeight(e, 10);
        Assert.True(await e.Harness.Published.Any<SetCanaryWeight>(x => x.Context.Message.Weight == 10), "the worker was not asked");
        Assert.True(await e.Harness.Published.Any<TrafficShifted>(x => x.Context.Message.ToWeight == 10));
        Assert.Equal([10], world[Target].AppliedWeights);
        Assert.Equal(2, router.Calls);
        Assert.Equal(RolloutPhases.Progressing, s.CurrentState);
    }

    [Fact]
    public async Task A_save_that_fails_after_the_weight_write_repeats_that_write_and_skips_no_step()
    {
        var state = Directory.CreateTempSubdirectory("canaryflow-test-").FullName;
        var store = new FailingSaveStore(new FileRolloutStore(Options.Create(new RolloutEngineOptions { StateDirectory = state })));
        var world = new InMemoryWorld();
        var router = new FailingRouter(world, failures: 0);
        await using var e = await EngineUnderTest.StartAsync(world, state, extra: (services, _) =>
        {
            services.AddSingleton<IRolloutStore>(store);
            services.AddSingleton<ITrafficRouter>(router);
        });
        await e.Request(Target, "v2", TestPlans.TenToHundred);
        await AtWeight(e, 10);

        store.FailWhen = s => s.AppliedWeight == 20; // the save of the message that wrote 20 % fails once, then is retried
        await e.Tick();
        var s = await AtWeight(e, 20);

        Assert.Equal(1, store.Failed);
        Assert.Equal(3, router.Calls); // 10 %, then 20 % twice: the same write again (idempotent)
        Assert.Equal([10, 20], world[Target].AppliedWeights); // no step skipped or repeated
        Assert.Equal((1, 20), (s.StepIndex, s.AppliedWeight));
    }

    private sealed class FailingRouter(InMemoryWorld world, int failures) : ITrafficRouter
    {
        public int Calls;

        public Task<TrafficWeights> GetWeightsAsync(RolloutTarget target, CancellationToken cancellationToken) => world.GetWeightsAsync(target, cancellationToken);

        public Task<TrafficWeights> SetWeightsAsync(RolloutTarget target, int canaryWeight, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref Calls) <= failures
                ? throw new InvalidOperationException("the mesh did not answer")
                : world.SetWeightsAsync(target, canaryWeight, cancellationToken);
    }

    private sealed class FailingSaveStore(IRolloutStore inner) : IRolloutStore
    {
        public Func<RolloutState, bool> FailWhen = _ => false;
        public int Failed;

        public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) => inner.LoadAllAsync(cancellationToken, fresh);

        public Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) => inner.LoadAsync(correlationId, cancellationToken);

        public Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
        {
            if (Failed == 0 && FailWhen(state))
            {
                Failed++;
                throw new IOException("disk full, once");
            }
            return inner.SaveAsync(state, expectedVersion, cancellationToken);
        }
    }
}
