namespace CanaryFlow.Contracts;

/// <summary>
/// Sharded replicas: sent by a replica into a partition's queue just after it took the partition and connected the queue.
/// The queue delivers in order, so by the time this comes back every message sent into the partition before (the
/// previous holder's last check results above all) has been delivered: the new holder's ticker acts for the partition
/// only from then on. Not about one rollout, so never routed by rollout.
/// </summary>
/// <param name="Holding">This replica's term of holding the partition (a marker from an earlier term is ignored).</param>
public sealed record PartitionTaken(int Partition, Guid Holding);
