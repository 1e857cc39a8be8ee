using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Kubernetes;
using CanaryFlow.Controller.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// Issue 15: a sharded replica holds the rollouts of the partitions it owns, not the cluster's: it drops a lost
/// partition's snapshots, loads a gained partition's only, and still shows every Canary (from their statuses) with the
/// replica that owns each.
/// </summary>
public sealed class ShardedReplicaMemoryTests : SandboxTest
{
    private const int Partitions = 4;
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Eight Canaries with a rollout each, saved by an unsharded writer; returns their targets by partition.</summary>
    private async Task<ILookup<int, RolloutTarget>> EightRolloutsAsync()
    {
        var writer = Host.Get<IRolloutStore>();
        var targets = Enumerable.Range(0, 8).Select(i => new RolloutTarget(Host.Namespace, $"svc-{i}")).ToList();
        foreach (var t in targets)
        {
            await Host.CreateCanaryAsync(t.Name, t.Name);
            await writer.SaveAsync(Progressing(t, weight: 10), 0, default);
        }
        var byPartition = targets.ToLookup(t => RolloutPartitions.OfTarget(t, Partitions));
        Assert.True(byPartition.Count >= 2, "the targets must spread over at least two partitions for these tests to mean anything");
        return byPartition;
    }

    /// <summary>A rollout at a step of its plan, as the engine stores it (the partition-label store tests save these too).</summary>
    internal static RolloutState Progressing(RolloutTarget target, int weight, long version = 1) => new()
    {
        CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
        CurrentState = RolloutPhases.Progressing, AppliedWeight = weight, DesiredWeight = weight, StepIndex = 0, Version = version,
        LastReason = $"canary weight {weight}%", LastTransitionAt = T0,
        Plan = new RolloutPlan([10, 50], TimeSpan.FromMinutes(1), 2, 0, 0, TimeSpan.FromMinutes(30), [], false, new AnalysisSpec(50, [])),
    };

    private CanaryStatusRolloutStore ReplicaStore(IPartitionOwnership ownership) =>
        new(Host.Get<CanaryApi>(), Host.Get<CanaryStatusWriter>(), TimeProvider.System, Host.Get<IOptions<CanaryFlow.Controller.Kubernetes.KubernetesOptions>>(), ownership);

    [Fact]
    public async Task A_replica_that_loses_a_partition_drops_the_snapshots_of_its_rollouts()
    {
        var byPartition = await EightRolloutsAsync();
        var held = new HeldPartitions(Partitions, [.. Enumerable.Range(0, Partitions)]);
        var store = ReplicaStore(held);
        Assert.Equal(8, (await store.LoadAllAsync(default, fresh: true)).Count);

        var lost = byPartition.First();
        await held.Set([.. Enumerable.Range(0, Partitions).Where(p => p != lost.Key)]);

        Assert.Equal(8 - lost.Count(), store.SnapshotCount); // dropped as the loss is announced, before any list
        var left = await store.LoadAllAsync(default);
        Assert.DoesNotContain(left, s => lost.Contains(s.Target));
        Assert.Null(await store.LoadAsync(RolloutIds.ForTarget(lost.First()), default));
        Assert.Equal(8 - lost.Count(), (await store.LoadAllAsync(default, fresh: true)).Count); // and a fresh read does not bring them back
    }

    [Fact]
    public async Task A_replica_that_gains_a_partition_loads_only_that_partitions_rollouts()
    {
        var byPartition = await EightRolloutsAsync();
        var held = new HeldPartitions(Partitions);
        var store = ReplicaStore(held);
        Assert.Empty(await store.LoadAllAsync(default, fresh: true)); // owns nothing: holds nothing

        var gained = byPartition.First();
        await held.Set(gained.Key);
        var loaded = await store.LoadAllAsync(default, fresh: true);

        Assert.Equal(gained.OrderBy(t => t.Name), loaded.Select(s => s.Target).OrderBy(t => t.Name));
        Assert.Equal(gained.Count(), store.SnapshotCount);
        Assert.All(loaded, s => Assert.Equal(10, s.AppliedWeight)); // the stored state itself, not a summary
    }

    [Fact]
    public async Task Reading_a_taken_partition_afresh_replaces_its_rollouts_and_leaves_the_other_partitions_as_held()
    {
        var byPartition = await EightRolloutsAsync();
        var store = ReplicaStore(new HeldPartitions(Partitions, [.. Enumerable.Range(0, Partitions)]));
        await store.LoadAllAsync(default, fresh: true);
        var (taken, other) = (byPartition.First().First(), byPartition.Skip(1).First().First());
        var writer = Host.Get<IRolloutStore>(); // another replica moves both on
        foreach (var t in new[] { taken, other }) await writer.SaveAsync(Progressing(t, weight: 50, version: 2), 1, default);

        var held = await store.ReloadAsync(id => RolloutPartitions.Of(id, Partitions) == byPartition.First().Key, default);

        Assert.Equal(byPartition.First().Count(), held);
        Assert.Equal((50, 2L), Weight(await store.HeldAsync(RolloutIds.ForTarget(taken), default)));
        Assert.Equal((10, 1L), Weight(await store.HeldAsync(RolloutIds.ForTarget(other), default))); // not read again
        Assert.Equal(8, store.SnapshotCount);
    }

    [Fact]
    public async Task A_save_that_meets_a_newer_stored_version_leaves_the_snapshot_at_the_stored_copy_for_the_retry()
    {
        var byPartition = await EightRolloutsAsync();
        var store = ReplicaStore(new HeldPartitions(Partitions, [.. Enumerable.Range(0, Partitions)]));
        await store.LoadAllAsync(default, fresh: true);
        var target = byPartition.First().First();
        await Host.Get<IRolloutStore>().SaveAsync(Progressing(target, weight: 50, version: 2), 1, default); // another writer

        await Assert.ThrowsAsync<RolloutConcurrencyException>(() => store.SaveAsync(Progressing(target, weight: 20, version: 2), 1, default));

        Assert.Equal((50, 2L), Weight(await store.HeldAsync(RolloutIds.ForTarget(target), default)));
        await store.SaveAsync(Progressing(target, weight: 20, version: 3), 2, default); // the retry, from the stored copy
        Assert.Equal(20, (int)(await Host.GetCanaryAsync(target.Name))["status"]!["canaryWeight"]!);
    }

    private static (int, long) Weight(RolloutState? s) => (s!.AppliedWeight, s.Version);

    [Fact]
    public async Task The_cluster_wide_view_lists_the_Canaries_other_replicas_own_with_their_owner()
    {
        var byPartition = await EightRolloutsAsync();
        var mine = byPartition.First();
        var store = ReplicaStore(new HeldPartitions(Partitions, mine.Key));
        await store.LoadAllAsync(default, fresh: true);
        var ownership = new HeldPartitions(Partitions, mine.Key);
        // Sharded, no watch of this replica receives the others' Canaries: the view lists them when asked.
        var statuses = ActivatorUtilities.CreateInstance<ClusterCanaryStatuses>(Host.Services, ownership);
        var holders = new FixedHolders("replica-a", byPartition.Where(g => g.Key != mine.Key).ToDictionary(g => g.Key, _ => "replica-b"));
        var view = new ClusterRollouts(store, new RolloutHistory(), ownership, JsonSerializerOptions.Web, statuses, holders);

        var rows = (await view.ListAsync(default)).Select(r => r!.AsObject()).ToList();

        Assert.Equal(8, rows.Count);
        foreach (var row in rows)
        {
            var target = new RolloutTarget((string)row["target"]!["namespace"]!, (string)row["target"]!["name"]!);
            var local = mine.Contains(target);
            Assert.Equal(local, (bool)row["local"]!);
            Assert.Equal(RolloutPartitions.OfTarget(target, Partitions), (int)row["partition"]!);
            Assert.Equal(local ? "replica-a" : "replica-b", (string?)row["owner"]);
            Assert.Equal((RolloutPhases.Progressing, 10, 0), ((string)row["phase"]!, (int)row["canaryWeight"]!, (int)row["stepIndex"]!));
            Assert.Equal(local, row["rolloutId"] is not null); // this replica's own in full, the others from their status
        }
        // Every row reads as the API's one shape (the CLI and the demo read the list as RolloutStatusView).
        var views = (await view.ListAsync(default)).Deserialize<List<RolloutStatusView>>(JsonSerializerOptions.Web)!;
        Assert.All(views, v => Assert.False(string.IsNullOrEmpty(v.LastReason) || v.History is null || v.Revision is null, $"{v.Target} lacks a field"));
        // One of another replica's, asked for by name: answered from the index, marked with its owner.
        var other = byPartition.First(g => g.Key != mine.Key).First();
        var one = (await view.FindAsync(other, default))!.AsObject();
        Assert.Equal(("replica-b", false), ((string?)one["owner"], (bool)one["local"]!));
        Assert.Null(await view.FindAsync(new RolloutTarget(Host.Namespace, "nobody"), default));
    }

    [Fact]
    public async Task A_replica_leaves_another_partitions_Canary_unlabelled_and_labels_and_initialises_it_once_it_holds_the_partition()
    {
        await Host.CreateDeploymentAsync("alpha", "podinfo:1");
        await Host.CreateDeploymentAsync("beta", "podinfo:1");
        var (a, b) = (RolloutPartitions.OfTarget(new RolloutTarget(Host.Namespace, "alpha"), Partitions),
            RolloutPartitions.OfTarget(new RolloutTarget(Host.Namespace, "beta"), Partitions));
        Assert.NotEqual(a, b); // pinned by the hash: alpha and beta fall in different partitions
        var held = new HeldPartitions(Partitions, a);
        var watcher = ActivatorUtilities.CreateInstance<DeploymentWatcher>(Host.Services, held, new CanaryStatusIndex());
        await watcher.StartAsync(default);
        try
        {
            await Host.CreateCanaryAsync("alpha", "alpha");
            await Host.CreateCanaryAsync("beta", "beta");
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync("alpha")), "alpha initialised by its owner");
            Assert.Equal(PartitionLabel.Value(a, Partitions), Label(await Host.GetCanaryAsync("alpha")));
            var beta = await Host.GetCanaryAsync("beta");
            Assert.False(Tracked(beta)); // not this replica's: left alone, and left unlabelled for its owner
            Assert.Null(Label(beta));

            await held.Set(a, b);
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync("beta")), "beta initialised once its partition is held");
            Assert.Equal(PartitionLabel.Value(b, Partitions), Label(await Host.GetCanaryAsync("beta")));
        }
        finally { await watcher.StopAsync(default); }
    }

    private static string? Label(JsonObject canary) => (string?)canary["metadata"]?["labels"]?[PartitionLabel.Key];

    private static bool Tracked(JsonObject canary) => canary["status"]?[DeploymentWatcher.TrackedRevisionField] is not null;

    private sealed class FixedHolders(string self, IReadOnlyDictionary<int, string> others) : IPartitionHolders
    {
        public string? Self => self;
        public Task<IReadOnlyDictionary<int, string>> HoldersAsync(CancellationToken ct) => Task.FromResult(others);
    }
}
