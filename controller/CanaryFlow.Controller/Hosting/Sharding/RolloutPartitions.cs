using System.Collections.Concurrent;
using System.Reflection;
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
    public static IReadOnlyList<Type> MessageTypes { get; } = typeof(RolloutRequested).Assembly.GetExportedTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && t.Namespace == typeof(RolloutRequested).Namespace)
        .Where(t => t == typeof(GetRolloutStatus) || t.GetProperty("CorrelationId")?.PropertyType == typeof(Guid))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .ToList();

    private static readonly ConcurrentDictionary<Type, Func<object, Guid>> Keys = new();

    /// <summary>The rollout key of a message of one of <see cref="MessageTypes"/>.</summary>
    public static Guid KeyOf(object message) => Keys.GetOrAdd(message.GetType(), KeyReader)(message);

    private static Func<object, Guid> KeyReader(Type type)
    {
        if (type == typeof(GetRolloutStatus)) return m => RolloutIds.ForTarget(((GetRolloutStatus)m).Target);
        var property = type.GetProperty("CorrelationId", BindingFlags.Public | BindingFlags.Instance)
                       ?? throw new ArgumentException($"{type.Name} is not about one rollout");
        return (Func<object, Guid>)typeof(RolloutPartitions).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type).Invoke(null, [property])!;
    }

    private static Func<object, Guid> Read<T>(PropertyInfo property)
    {
        var get = property.GetMethod!.CreateDelegate<Func<T, Guid>>();
        return m => get((T)m);
    }
}
