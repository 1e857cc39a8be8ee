using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// Active-active replicas (configuration section "Sharding"). Off (0 partitions) by default: one replica acts, as
/// with leader election. On, the rollouts are split into <see cref="Partitions"/> partitions by a hash of the rollout
/// id; each partition has a RabbitMQ queue with a single active consumer and a Kubernetes Lease that fences its
/// writer, and the replicas share the partitions. Needs the RabbitMQ transport and the Kubernetes API (for the Leases).
/// </summary>
public sealed class ShardingOptions
{
    public const string Section = "Sharding";

    /// <summary>0: off. Fixed for the life of a deployment: a rollout's partition (and queue) comes from it.</summary>
    [Range(0, 256)]
    public int Partitions { get; set; }

    public bool Enabled => Partitions > 0;

    /// <summary>A held partition whose queue gave this replica nothing for this long (no rollout message, and not its own
    /// heartbeat, sent every sixth of it) is given up: its Lease expires to a replica that can serve it. A Lease says only
    /// that its holder renews it; a kill run lost a broker node and one replica kept six partitions' Leases with nothing
    /// consumed or published for them to the end.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ConsumerSilentAfter { get; set; } = TimeSpan.FromSeconds(60);

    public static ShardingOptions From(IConfiguration configuration) =>
        configuration.GetSection(Section).Get<ShardingOptions>() ?? new ShardingOptions();
}
