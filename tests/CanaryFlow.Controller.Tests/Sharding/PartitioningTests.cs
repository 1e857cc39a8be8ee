using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Leadership;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>Issue 15: how rollouts are split into partitions, which messages follow them, and the per-partition fence.</summary>
public sealed class PartitioningTests
{
    [Fact]
    public void A_rollout_has_the_same_partition_in_every_process_and_version()
    {
        // Pinned: the partition is part of the deployment's state (queue and Lease names); a change of hash would move
        // every rollout at an upgrade. (Value from the FNV-1a of RolloutIds.ForTarget, computed independently.)
        Assert.Equal(2, RolloutPartitions.OfTarget(new RolloutTarget("scale", "svc-0000"), 6));
        Assert.Equal(1, RolloutPartitions.OfTarget(new RolloutTarget("scale", "svc-0003"), 6));
        Assert.Equal(RolloutPartitions.OfTarget(new RolloutTarget("a", "b"), 16), RolloutPartitions.Of(RolloutIds.ForTarget(new RolloutTarget("a", "b")), 16));
    }

    [Fact]
    public void Rollouts_spread_over_all_partitions()
    {
        var counts = Enumerable.Range(0, 1200).GroupBy(i => RolloutPartitions.OfTarget(new RolloutTarget("ns", $"svc-{i}"), 12)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(12, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 60, 140)); // 100 each on average
    }

    [Fact]
    public void Every_message_about_one_rollout_is_routed_by_its_rollout_and_nothing_else_is()
    {
        var types = RolloutPartitions.MessageTypes;
        Assert.Contains(typeof(RolloutRequested), types);
        Assert.Contains(typeof(AnalysisDue), types);
        Assert.Contains(typeof(RolloutTransitioned), types);
        Assert.Contains(typeof(GetRolloutStatus), types);
        Assert.DoesNotContain(typeof(RolloutStatusView), types); // a reply, sent to the asker's own queue
        Assert.DoesNotContain(typeof(RolloutTarget), types);

        var target = new RolloutTarget("ns", "checkout");
        var id = RolloutIds.ForTarget(target);
        Assert.Equal(id, RolloutPartitions.KeyOf(new GetRolloutStatus(target)));
        Assert.Equal(id, RolloutPartitions.KeyOf(new AbortRollout(id, target, "user:test", "why")));
        Assert.Equal("CanaryFlow.Contracts:RolloutRequested", PartitionTopology.ExchangeName(typeof(RolloutRequested)));
    }

    [Fact]
    public void A_partition_queues_address_names_its_partition_and_no_other_address_does()
    {
        Assert.True(PartitionTopology.TryPartitionOf(new Uri("rabbitmq://127.0.0.1:5672/canaryflow/canaryflow-partition-11"), out var p));
        Assert.Equal(11, p);
        Assert.True(PartitionTopology.TryPartitionOf(new Uri($"loopback://localhost/{PartitionTopology.QueueName(0)}"), out p));
        Assert.Equal(0, p);
        Assert.False(PartitionTopology.TryPartitionOf(new Uri("rabbitmq://127.0.0.1/prepare-canary"), out _));
        Assert.False(PartitionTopology.TryPartitionOf(new Uri("rabbitmq://127.0.0.1/canaryflow-partition-x1"), out _));
        Assert.False(PartitionTopology.TryPartitionOf(null, out _));
    }

    [Fact]
    public void A_write_for_a_partition_passes_only_while_that_partitions_lease_is_held()
    {
        var held = new HashSet<int> { 1 };
        var fence = new WriteFence(open: true);
        fence.FenceByPartition(held.Contains);

        Assert.True(fence.AllowsWrite()); // for no rollout in particular (a registry webhook's image update)
        using (PartitionScope.Enter(1)) Assert.True(fence.AllowsWrite());
        using (PartitionScope.Enter(2)) Assert.False(fence.AllowsWrite());
        held.Remove(1);
        using (PartitionScope.Enter(1)) Assert.False(fence.AllowsWrite()); // lost: refused from the next write on
        Assert.Null(PartitionScope.Current);
    }

    [Fact]
    public void Without_sharding_the_fence_is_the_single_leaders()
    {
        var fence = new WriteFence(open: false);
        using (PartitionScope.Enter(0)) Assert.False(fence.AllowsWrite());
        var open = new WriteFence(open: true);
        using (PartitionScope.Enter(0)) Assert.True(open.AllowsWrite());
    }

    [Fact]
    public void Broker_nodes_are_host_or_host_and_port()
    {
        var options = new BusOptions { Transport = BusTransport.RabbitMq };
        options.RabbitMq.Port = 5673;
        options.RabbitMq.Hosts.AddRange(["rabbit-0.rabbit", "rabbit-1.rabbit:5674"]);
        Assert.Equal([("rabbit-0.rabbit", 5673), ("rabbit-1.rabbit", 5674)], options.RabbitMq.Nodes());
        Assert.Empty(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));

        options.RabbitMq.Hosts.Add("rabbit-2:notaport");
        Assert.Single(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
    }
}
