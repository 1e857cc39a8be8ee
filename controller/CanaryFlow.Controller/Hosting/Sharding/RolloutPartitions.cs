using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// Which partition a rollout belongs to, and which messages are about one rollout. The key is the saga's
/// correlation id (<see cref="RolloutIds.ForTarget"/>): every message about a target carries it, except the status
/// query, which carries the target. The hash is FNV-1a over the id's bytes: stable across processes and versions
/// (never <see cref="Guid.GetHashCode"/>, whose value is not part of any contract).
/// </summary>
public static class RolloutPartitions
{
    public static int Of(Guid rolloutKey, int partitions)
    {
        Span<byte> bytes = stackalloc byte[16];
        rolloutKey.TryWriteBytes(bytes);
        var hash = 2166136261u;
        foreach (var b in bytes) hash = (hash ^ b) * 16777619u;
        return (int)(hash % (uint)partitions);
    }

    public static int OfTarget(RolloutTarget target, int partitions) => Of(RolloutIds.ForTarget(target), partitions);

    /// <summary>Every contract message that is about one rollout: routed to that rollout's partition.</summary>
    public static IReadOnlyList<Type> MessageTypes => Messages.Select(m => m.Type).ToList();

    /// <summary><see cref="MessageTypes"/>, each with what sharding does with it (made once).</summary>
    public static IReadOnlyList<PartitionedMessage> Messages { get; } = typeof(RolloutRequested).Assembly.GetExportedTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && t.Namespace == typeof(RolloutRequested).Namespace)
        .Where(t => t == typeof(GetRolloutStatus) || t.GetProperty("CorrelationId")?.PropertyType == typeof(Guid))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .Select(PartitionedMessage.For)
        .ToList();

    private static readonly Dictionary<Type, PartitionedMessage> ByType = Messages.ToDictionary(m => m.Type);

    /// <summary>The rollout key of a message of one of <see cref="MessageTypes"/>.</summary>
    public static Guid KeyOf(object message) =>
        ByType.TryGetValue(message.GetType(), out var m) ? m.KeyOf(message) : throw new ArgumentException($"{message.GetType().Name} is not about one rollout");
}
