using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// Issue 15, "no check is run twice": two sharded replicas in this process on a real RabbitMQ, the partition moved
/// between them while checks run (each check takes 1.5 s). A check is keyed by (rollout, step): every step of these
/// plans needs one passing check, so a check run twice shows as a second run at the same weight.
/// </summary>
public sealed class PartitionMoveTests
{
    private static readonly int[] Steps = [20, 40, 60, 80, 100];

    [Fact]
    public async Task A_partition_handed_over_mid_check_runs_each_check_of_each_rollout_once()
    {
        var (broker, vhost) = await BrokerAsync("shard-handover");
        var world = new InMemoryWorld();
        var runner = new SlowRecordingRunner(world, TimeSpan.FromMilliseconds(1500));
        var results = new ResultLog();
        await using var a = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results);
        await using var b = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results, a.Store);
        await a.Ownership.GainAsync(0);
        var targets = Enumerable.Range(0, 4).Select(i => new RolloutTarget("shard", $"handover-{i}")).ToList();
        foreach (var target in targets) await a.Bus.Publish(Request(target));

        // A → B while A runs a check, then B → A while B runs one: each time the queue stops first, so the check in
        // flight finishes and its result leaves before the fence closes and the other replica takes the partition.
        await Until(() => runner.Running > 0, "a check running on A");
        await a.Ownership.StepDownAsync(0);
        var before = runner.Runs.Count;
        await b.Ownership.GainAsync(0);
        await Until(() => runner.Runs.Count > before && runner.Running > 0, "a check running on B");
        await b.Ownership.StepDownAsync(0);
        await a.Ownership.GainAsync(0);

        await Until(async () => (await Phases(a, targets)).All(p => p == RolloutPhases.Succeeded), "every rollout promoted");
        foreach (var target in targets)
            Assert.Equal(Steps, runner.Runs.Where(r => r.Target == target).Select(r => r.Weight)); // one check per step, none again
        Assert.All(results.Passed.GroupBy(r => r), g => Assert.Single(g));
        Assert.Equal(targets.Count * Steps.Length, results.Passed.Count);
    }

    [Fact]
    public async Task A_partition_lost_mid_check_takes_no_result_from_the_old_holder_and_no_step_twice()
    {
        var (broker, vhost) = await BrokerAsync("shard-lost");
        var world = new InMemoryWorld();
        var onA = new SlowRecordingRunner(world, TimeSpan.FromMilliseconds(1500));
        var onB = new SlowRecordingRunner(world, TimeSpan.FromMilliseconds(1500));
        var results = new ResultLog();
        await using var a = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, onA, results);
        await using var b = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, onB, results, a.Store);
        await a.Ownership.GainAsync(0);
        var targets = Enumerable.Range(0, 3).Select(i => new RolloutTarget("shard", $"lost-{i}")).ToList();
        foreach (var target in targets) await a.Bus.Publish(Request(target));

        // A's renewals fail mid-check: its fence closes at once, so the checks it is running can deliver nothing; B takes
        // the partition while they still run (A's queue stopping), and runs them (once: B's ticker's own copy is dropped).
        await Until(() => onA.Running > 0, "a check running on A", async () => string.Join(", ", await Phases(a, targets)));
        await a.Ownership.LoseAsync(0);
        await b.Ownership.GainAsync(0);
        Assert.True(onA.Running > 0, "B took the partition after A's checks ended: the test proves less than it says");

        await Until(async () => (await Phases(b, targets)).All(p => p == RolloutPhases.Succeeded), "every rollout promoted");
        Assert.All(results.Passed.GroupBy(r => r), g => Assert.Single(g)); // each check's result reached the saga once
        Assert.Equal(targets.Count * Steps.Length, results.Passed.Count);
        foreach (var target in targets)
        {
            Assert.Equal([.. Steps, 0], world[target].AppliedWeights); // every step, in order, then promoted (canary at 0)
            var runs = onA.Runs.Concat(onB.Runs).Where(r => r.Target == target).ToList();
            Assert.Equal(Steps, runs.Select(r => r.Weight).Distinct().Order());
            // A check runs twice only when A was cut off in it (its result refused by the fence): once on each replica.
            foreach (var step in Steps.Where(w => runs.Count(r => r.Weight == w) > 1))
            {
                Assert.Single(onA.Runs, r => r.Target == target && r.Weight == step);
                Assert.Single(onB.Runs, r => r.Target == target && r.Weight == step);
            }
        }
        Assert.All(onB.Runs.GroupBy(r => (r.Target, r.Weight)), g => Assert.Single(g)); // B ran each check once
    }

    [Fact]
    public async Task A_rollout_request_whose_first_save_meets_a_closed_fence_reaches_the_next_holder_and_is_rolled_out()
    {
        var (broker, vhost) = await BrokerAsync("shard-fenced-save");
        var world = new InMemoryWorld();
        var runner = new SlowRecordingRunner(world, TimeSpan.Zero);
        var results = new ResultLog();
        var shared = new FileRolloutStore(Options.Create(new RolloutEngineOptions
        {
            StateDirectory = Directory.CreateTempSubdirectory("canaryflow-fenced-").FullName,
        }));
        FencedStore? onA = null;
        await using var a = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results, storeFor: o => onA = new FencedStore(shared, o));
        await using var b = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results, storeFor: o => new FencedStore(shared, o));
        await a.Ownership.GainAsync(0);
        var target = new RolloutTarget("shard", "fenced-save");
        onA!.HoldNextSave();
        await a.Bus.Publish(Request(target));

        // A's saga is saving the new rollout when A loses the partition: the fence closes at once, the queue stops in the
        // background, and the save is refused. Nothing of the rollout is stored: only the request itself can start it on B
        // (kill run s1 lost 6 requests of 1,000 this way, taken just after a hand-over).
        await onA.Held.WaitAsync(TimeSpan.FromSeconds(60));
        await a.Ownership.LoseAsync(0);
        onA.Release();
        await b.Ownership.GainAsync(0);

        await Until(async () => (await Phases(b, [target])).Single() == RolloutPhases.Succeeded, "the rollout promoted by B",
            async () => string.Join(", ", await Phases(b, [target])));
        Assert.Equal([.. Steps, 0], world[target].AppliedWeights);
    }

    [Fact]
    public async Task Copies_of_one_check_in_a_partitions_queue_run_it_once()
    {
        var (broker, vhost) = await BrokerAsync("shard-copies");
        var world = new InMemoryWorld();
        var runner = new SlowRecordingRunner(world, TimeSpan.FromMilliseconds(1500));
        var results = new ResultLog();
        await using var a = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results);
        await a.Ownership.GainAsync(0);
        var target = new RolloutTarget("shard", "copies");
        await a.Bus.Publish(Request(target));

        // Two more copies of the first check, beside the ticker's own: as a previous holder's ticker and this one's would.
        var id = RolloutIds.ForTarget(target);
        RolloutState? s = null;
        await Until(async () => (s = (await a.Store.LoadAllAsync(CancellationToken.None)).FirstOrDefault(x => x.CorrelationId == id)) is
            { CurrentState: RolloutPhases.Progressing, AppliedWeight: 20, NextAnalysisAt: not null }, "the first step");
        var due = new AnalysisDue(id, s!.RolloutId, target, s.Revision, 20, s.AnalysisSequence, s.NextAnalysisAt!.Value, s.Plan.AnalysisInterval, s.Plan.Analysis);
        await Task.WhenAll(a.Bus.Publish(due), a.Bus.Publish(due));

        await Until(async () => (await Phases(a, [target])).Single() == RolloutPhases.Succeeded, "the rollout promoted");
        Assert.Equal(Steps, runner.Runs.Select(r => r.Weight)); // the first step's check ran once
        Assert.Equal(Steps.Length, results.Passed.Count);
    }

    [Fact]
    public async Task A_preparation_waiting_for_its_canary_is_asked_again_as_soon_as_its_last_copy_left_the_partition_queue()
    {
        var (broker, vhost) = await BrokerAsync("shard-asks");
        var world = new InMemoryWorld();
        var runner = new SlowRecordingRunner(world, TimeSpan.Zero);
        var results = new ResultLog();
        // A copy not seen taken is asked again only after an hour: the rollout ends within the test's wait only if this
        // replica sees its copies consumed from the partition queue, which it connects at run time.
        await using var a = await ShardedReplica.StartAsync(broker.Port, vhost, 1, world, runner, results, settings: new Dictionary<string, string?>
        {
            ["Rollouts:RecheckAfter"] = "00:00:00.100",
            ["Rollouts:ResendUntakenAfter"] = "01:00:00",
        });
        await a.Ownership.GainAsync(0);
        var target = new RolloutTarget("shard", "asks");
        world[target].CanaryAvailableAfterAsks = 4;
        var requested = DateTimeOffset.UtcNow;
        await a.Bus.Publish(Request(target));

        await Until(async () => (await Phases(a, [target])).Single() == RolloutPhases.Succeeded, "the rollout promoted",
            async () => $"{string.Join(", ", await Phases(a, [target]))}, {world[target].PrepareAsks} preparations asked");
        // The saga's command, then re-asks one at a time until the fifth is answered "available" (a sixth may have left
        // the ticker before the saga took that answer).
        Assert.InRange(world[target].PrepareAsks, 5, 6);
        Assert.True(a.Asks.TakenSince(RolloutIds.ForTarget(target), AskKind.Command, requested));
        Assert.True(a.Asks.TakenSince(RolloutIds.ForTarget(target), AskKind.Analysis, requested));
    }

    private static async Task<(RabbitMqBroker, string)> BrokerAsync(string name)
    {
        var broker = await RabbitMqBroker.SharedAsync();
        return (broker, await broker.NewVirtualHostAsync(name));
    }

    private static RolloutRequested Request(RolloutTarget target) => new(
        RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, "2.0"), target, "2.0", "app:2.0",
        new RolloutPlan(Steps, TimeSpan.FromSeconds(1), FailureLimit: 2, InconclusiveLimit: 0, ErrorLimit: 0, ProgressDeadline: TimeSpan.FromMinutes(30),
            ApprovalAtWeights: [], ApprovalBeforePromotion: false, new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.99)])),
        "test", "new revision", DateTimeOffset.UnixEpoch);

    private static async Task<List<string>> Phases(ShardedReplica replica, List<RolloutTarget> targets)
    {
        var states = await replica.Store.LoadAllAsync(CancellationToken.None);
        return targets.Select(t => states.FirstOrDefault(s => s.CorrelationId == RolloutIds.ForTarget(t))?.CurrentState ?? "absent").ToList();
    }

    private static Task Until(Func<bool> condition, string what, Func<Task<string>>? state = null) => Until(() => Task.FromResult(condition()), what, state);

    private static async Task Until(Func<Task<bool>> condition, string what, Func<Task<string>>? state = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"Timed out waiting for {what} ({(state is null ? "" : await state())})");
            await Task.Delay(20);
        }
    }
}
