using System.Linq.Expressions;
using System.Reflection;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// The stored fields of <see cref="RolloutState"/> (its public read-write properties, which are what is saved as
/// JSON), and an equality over all of them compiled once: a field added later is compared without anyone
/// remembering to list it. Replaces a JSON round trip per saga message (see docs/benchmarks.md, Engine).
/// </summary>
internal static class StateFields
{
    public static readonly PropertyInfo[] All = typeof(RolloutState)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0)
        .ToArray();

    public static readonly Func<RolloutState, RolloutState, bool> Same = Compile([]);

    /// <summary>An equality over every stored field but the <paramref name="skipped"/> ones (compile once, keep it).</summary>
    public static Func<RolloutState, RolloutState, bool> SameExcept(params string[] skipped)
    {
        var unknown = skipped.Except(All.Select(p => p.Name)).ToArray();
        if (unknown.Length > 0) throw new ArgumentException($"not stored fields of RolloutState: {string.Join(", ", unknown)}", nameof(skipped));
        return Compile(skipped);
    }

    private static Func<RolloutState, RolloutState, bool> Compile(string[] skipped)
    {
        var a = Expression.Parameter(typeof(RolloutState), "a");
        var b = Expression.Parameter(typeof(RolloutState), "b");
        Expression body = Expression.Constant(true);
        foreach (var p in All.Where(p => !skipped.Contains(p.Name)))
        {
            // EqualityComparer<T>.Default: value equality for strings, records and value types; no boxing.
            var comparer = typeof(EqualityComparer<>).MakeGenericType(p.PropertyType);
            var @default = Expression.Property(null, comparer.GetProperty(nameof(EqualityComparer<object>.Default))!);
            var equals = Expression.Call(@default, comparer.GetMethod(nameof(EqualityComparer<object>.Equals), [p.PropertyType, p.PropertyType])!,
                Expression.Property(a, p), Expression.Property(b, p));
            body = Expression.AndAlso(body, equals);
        }
        return Expression.Lambda<Func<RolloutState, RolloutState, bool>>(body, a, b).Compile();
    }
}
