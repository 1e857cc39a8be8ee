namespace CanaryFlow.Contracts;

/// <summary>
/// Sharded replicas: sent by a replica into a partition's queue just after it took the partition and connected the queue.
/// The queue delivers in order, so by the time this comes back every message sent into the partition before (the
/// previous holder's last check results above all) has been delivered: the new holder's ticker acts for the partition
/// only from then on. Not about one rollout, so never routed by rollout.
/// </summary>
/// <param name="Holding">This replica's term of holding the partition (a marker from an earlier term is ignored).</param>
public sealed record PartitionTaken(int Partition, Guid Holding);

/// <summary>
/// Sharded replicas: sent by the holder of a partition into its queue every so often, and taken off it by the same
/// holder's consumer. A holder whose queue gives it nothing at all, neither a rollout message nor its own heartbeat, for
/// <c>Sharding:ConsumerSilentAfter</c> is not serving the partition (its consumer or its publishes stopped: a broker
/// node lost under it) and gives it up, so that a replica that can serve it takes it.
/// </summary>
/// <param name="Holding">The sender's term (for the logs: any heartbeat taken off the queue shows that its consumer runs).</param>
public sealed record PartitionHeartbeat(int Partition, Guid Holding);
