using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using MassTransit.Saga;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// The saga's repository is the rollout store (RolloutSagaRepository): each message works on a copy of the stored
/// snapshot under the rollout's striped lock. These prove what MassTransit's in-memory repository gave before: one
/// rollout's messages one at a time, different rollouts side by side, a missing rollout as the state machine expects,
/// and a restart that resumes every rollout; and that nothing of a rollout is kept beside the store.
/// </summary>
public sealed class RolloutSagaRepositoryTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");
    private static Guid Id => RolloutIds.ForTarget(Target);

    private static Task<EngineUnderTest> StartObserved(InMemoryWorld? world = null, string? dir = null, FakeTimeProvider? clock = null) =>
        EngineUnderTest.StartAsync(world, dir, clock, extra: (services, _) =>
            services.Replace(ServiceDescriptor.Singleton<IRolloutStore>(sp => new ObservedStore(ActivatorUtilities.CreateInstance<FileRolloutStore>(sp)))));

    private static ObservedStore Store(EngineUnderTest e) => (ObservedStore)e.Services.GetRequiredService<IRolloutStore>();

    private static Task<RolloutState> AtRest(EngineUnderTest e, RolloutTarget t, int weight) =>
        e.Until(t, s => s.AppliedWeight == weight && s.Pending == null && s.NextAnalysisAt != null, $"{t.Name} at {weight}%");

    [Fact]
    public async Task One_rollouts_lock_is_held_until_released_while_another_stripes_lock_is_free()
    {
        var locks = new RolloutLocks();
        var (a, b) = TwoIdsOnDifferentStripes();
        var first = await locks.EnterAsync(a, CancellationToken.None);
        var second = locks.EnterAsync(a, CancellationToken.None).AsTask();
        var other = locks.EnterAsync(b, CancellationToken.None).AsTask();

        Assert.True(other.IsCompletedSuccessfully, "another stripe's lock waited for an unrelated rollout");
        Assert.False(second.IsCompleted, "the same rollout's lock was given twice");
        first.Dispose();
        (await second).Dispose();
        (await other).Dispose();
    }

    [Fact]
    public async Task Reading_every_rollout_afresh_waits_for_a_message_under_way_and_reading_a_taken_partitions_does_not()
    {
        var locks = new RolloutLocks();
        var store = new ObservedStore(new FileRolloutStore(Microsoft.Extensions.Options.Options.Create(
            new RolloutEngineOptions { StateDirectory = Directory.CreateTempSubdirectory("canaryflow-test-").FullName })));
        var rehydrator = new RolloutRehydrator(store, locks, Microsoft.Extensions.Logging.Abstractions.NullLogger<RolloutRehydrator>.Instance);

        var message = await locks.EnterAsync(Id, CancellationToken.None); // a saga message of one rollout, under way
        var load = rehydrator.LoadAsync(CancellationToken.None);
        Assert.False(load.IsCompleted, "the fresh read did not wait for the message under way");
        // A partition just taken: no message of its rollouts runs here yet, so its read goes ahead of the one under way.
        Assert.Equal(0, await rehydrator.LoadAsync(_ => true, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        message.Dispose();
        await load;
        // Once done, every lock is free again.
        (await locks.EnterAsync(Id, CancellationToken.None)).Dispose();
    }

    [Fact]
    public async Task Concurrent_messages_to_one_rollout_are_handled_one_at_a_time_with_no_version_conflict()
    {
        await using var e = await StartObserved();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        await AtRest(e, Target, 10);
        var store = Store(e);
        store.SaveTakes = TimeSpan.FromMilliseconds(5); // a save that lasts: two at once would overlap

        const int pairs = 15;
        await Task.WhenAll(Enumerable.Range(0, pairs).SelectMany(i => new[]
        {
            e.Publish(new PauseRollout(Id, Target, "user:bob", $"hold {i}")),
            e.Publish(new ResumeRollout(Id, Target, "user:bob", $"go {i}")),
        }));
        var saga = e.Harness.GetSagaStateMachineHarness<RolloutStateMachine, RolloutState>();
        Assert.Equal(pairs, await AsyncElementListExtensions.Take(saga.Consumed.SelectAsync<PauseRollout>(), pairs).CountAsync());
        Assert.Equal(pairs, await AsyncElementListExtensions.Take(saga.Consumed.SelectAsync<ResumeRollout>(), pairs).CountAsync());

        Assert.Equal(1, store.MaxOfOneRollout);
        Assert.Equal(0, store.Conflicts);
        var s = await e.Find(Target);
        Assert.True(s!.CurrentState is RolloutPhases.Paused or RolloutPhases.Progressing, EngineUnderTest.Describe(s));
        Assert.Equal(10, s.AppliedWeight);
    }

    [Fact]
    public async Task Different_rollouts_are_handled_side_by_side()
    {
        await using var e = await StartObserved();
        var (a, b) = TwoTargetsOnDifferentStripes();
        var store = Store(e);
        // A's first save waits until B's save has begun: if the repository ran one rollout at a time, B's never would.
        store.Gate = (RolloutIds.ForTarget(a), RolloutIds.ForTarget(b));
        await e.Request(a, "v2", TestPlans.Steps(10, 50));
        await AtRestAfterStart(e, b);
        await AtRest(e, a, 10);

        Assert.False(store.GateTimedOut, "the second rollout's save never began while the first one's was under way");
        Assert.True(store.MaxOfAll >= 2, $"at most {store.MaxOfAll} save under way at once");
        Assert.Equal(0, store.Conflicts);
    }

    private static async Task AtRestAfterStart(EngineUnderTest e, RolloutTarget b)
    {
        await e.Request(b, "v2", TestPlans.Steps(10, 50));
        await AtRest(e, b, 10);
    }

    [Fact]
    public async Task A_command_for_a_rollout_the_store_does_not_hold_is_discarded_and_creates_nothing()
    {
        await using var e = await StartObserved();
        var unknown = new RolloutTarget("shop", "nobody");
        var id = RolloutIds.ForTarget(unknown);
        await e.Publish(new PauseRollout(id, unknown, "user:bob", "hold"));
        await e.Publish(new AbortRollout(id, unknown, "user:bob", "stop"));
        Assert.True(await e.Harness.Consumed.Any<AbortRollout>(m => m.Context.Message.CorrelationId == id), "the abort never reached the saga's endpoint");

        Assert.Null(await e.Services.GetRequiredService<IRolloutStore>().LoadAsync(id, CancellationToken.None));
        Assert.False(await e.Harness.Published.Any<Fault<PauseRollout>>(), "a command for a missing rollout faulted");
        // The start of a rollout is the one event that creates it.
        await e.Request(unknown, "v2", TestPlans.Steps(10, 50));
        await AtRest(e, unknown, 10);
    }

    [Fact]
    public async Task A_message_changes_a_copy_so_readers_of_the_store_never_see_a_half_changed_rollout()
    {
        await using var e = await StartObserved();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        var before = await AtRest(e, Target, 10);
        var stored = await e.Services.GetRequiredService<IRolloutStore>().LoadAsync(Id, CancellationToken.None);

        await e.Publish(new PauseRollout(Id, Target, "user:bob", "hold"));
        var paused = await e.Until(Target, s => s.CurrentState == RolloutPhases.Paused, "paused");

        Assert.Equal(RolloutPhases.Progressing, stored!.CurrentState); // the snapshot read before is untouched
        Assert.Equal(before.Version + 1, paused.Version);
        Assert.NotSame(stored, paused);
    }

    [Fact]
    public async Task Nothing_of_a_rollout_is_kept_beside_the_store()
    {
        await using var e = await StartObserved();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        await AtRest(e, Target, 10);

        // MassTransit's in-memory repository kept an indexed dictionary of instances; it is not registered at all.
        Assert.Null(e.Services.GetService<IndexedSagaDictionary<RolloutState>>());
        using var scope = e.Services.CreateScope();
        Assert.IsType<RolloutSagaRepositoryContextFactory>(scope.ServiceProvider.GetRequiredService<ISagaRepositoryContextFactory<RolloutState>>());
    }

    [Fact]
    public async Task An_engine_started_again_on_the_same_folder_resumes_every_rollout_and_finishes_it()
    {
        var world = new InMemoryWorld();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var dir = Directory.CreateTempSubdirectory("canaryflow-test-").FullName;
        var targets = Enumerable.Range(0, 6).Select(i => new RolloutTarget("shop", $"svc-{i}")).ToList();

        // In one process, MassTransit's test harness cannot start a second bus after the first one's services are disposed
        // (its log context is static): the first engine's bus is stopped here (with the results of those checks under way),
        // the rest of it disposed at the end; the second reads the folder as a new process would.
        var first = await StartObserved(world, dir, clock);
        foreach (var t in targets) await first.Request(t, "v2", TestPlans.Steps(10, 50, 100));
        foreach (var t in targets) await AtRest(first, t, 10);
        await first.Tick(); // checks run, and their results reach the saga while the bus stops
        await first.Harness.Stop();

        await using var second = await StartObserved(world, dir, clock);
        // Each tick moves the clock one interval on: every unfinished rollout has something due (a check, or a command
        // sent again), so each round moves each of them on by one save; three steps and a promotion need at most a few.
        for (var round = 0; round < 8 && !await AllSucceeded(second, targets); round++)
        {
            var versions = new Dictionary<RolloutTarget, long>();
            foreach (var t in targets) versions[t] = (await second.Find(t))!.Version;
            await second.Tick();
            foreach (var t in targets)
                await second.Until(t, s => s.CurrentState == RolloutPhases.Succeeded || (s.Version > versions[t] && s.Pending == null),
                    $"{t.Name} moved on");
        }

        foreach (var t in targets)
        {
            var s = await second.Find(t);
            Assert.True(s!.CurrentState == RolloutPhases.Succeeded, EngineUnderTest.Describe(s));
            // Every step once, in order, across the restart (a weight is written again only as the same weight).
            Assert.Equal([10, 50, 100], world[t].AppliedWeights.Where(w => w > 0).Distinct());
            Assert.True(world[t].AppliedWeights.Where(w => w > 0).Order().SequenceEqual(world[t].AppliedWeights.Where(w => w > 0)),
                $"{t.Name}: {string.Join(",", world[t].AppliedWeights)}");
        }
        Assert.Equal(0, Store(second).Conflicts);
        await first.DisposeAsync();
    }

    private static async Task<bool> AllSucceeded(EngineUnderTest e, List<RolloutTarget> targets)
    {
        foreach (var t in targets)
            if ((await e.Find(t))?.CurrentState != RolloutPhases.Succeeded) return false;
        return true;
    }

    private static (Guid, Guid) TwoIdsOnDifferentStripes()
    {
        var (a, b) = TwoTargetsOnDifferentStripes();
        return (RolloutIds.ForTarget(a), RolloutIds.ForTarget(b));
    }

    private static (RolloutTarget, RolloutTarget) TwoTargetsOnDifferentStripes()
    {
        var a = new RolloutTarget("shop", "alpha");
        var b = Enumerable.Range(0, 100).Select(i => new RolloutTarget("shop", $"beta-{i}"))
            .First(t => RolloutLocks.StripeOf(RolloutIds.ForTarget(t)) != RolloutLocks.StripeOf(RolloutIds.ForTarget(a)));
        return (a, b);
    }
}
