using System.Collections.Concurrent;
using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// One shared instance of the equal, immutable parts that many rollouts hold (issue 15: memory per rollout): a plan
/// resolved from the same Canary template, a namespace, an actor, a revision, a metric's name and outcome. Every
/// rollout used to keep its own deserialised copy of each. Safe because these are immutable contract records and
/// strings: nothing changes them in place, and an interned value is equal to the one it replaces, so what is saved
/// and announced is the same. Bounded: past <see cref="MaxEntries"/> distinct values a pool stops adding and hands
/// the value back unshared (a cluster with that many distinct plans still works, only without the saving).
/// </summary>
public static class SharedParts
{
    public const int MaxEntries = 4096;
    /// <summary>Longer texts are seldom repeated (reasons, summaries with numbers): not worth a pool entry.</summary>
    private const int MaxTextLength = 128;

    private static readonly ConcurrentDictionary<RolloutPlan, RolloutPlan> Plans = new(PlanComparer.Instance);
    private static readonly ConcurrentDictionary<string, string> Texts = new(StringComparer.Ordinal);
    // Counted here: ConcurrentDictionary.Count takes every lock of the table.
    private static int _plans, _texts;

    /// <summary>The shared plan equal to <paramref name="plan"/> (by content, lists included).</summary>
    public static RolloutPlan Plan(RolloutPlan plan)
    {
        // A plan missing a list (JSON of a broken state) is kept as it is: the pool's comparer reads every list.
        if (plan?.Steps is null || plan.ApprovalAtWeights is null || plan.Analysis?.Metrics is null) return plan!;
        if (Plans.TryGetValue(plan, out var shared)) return shared;
        return Add(Plans, plan, ref _plans);
    }

    /// <summary>The shared string equal to <paramref name="text"/> (short texts only).</summary>
    public static string Text(string text)
    {
        if (text is null || text.Length > MaxTextLength) return text!;
        if (Texts.TryGetValue(text, out var shared)) return shared;
        return Add(Texts, text, ref _texts);
    }

    private static T Add<T>(ConcurrentDictionary<T, T> pool, T value, ref int count) where T : notnull
    {
        if (Volatile.Read(ref count) >= MaxEntries) return value;
        var shared = pool.GetOrAdd(value, value);
        if (ReferenceEquals(shared, value)) Interlocked.Increment(ref count);
        return shared;
    }

    public static string? OptionalText(string? text) => text is null ? null : Text(text);

    /// <summary>The target with a shared namespace (names are one per target, so they stay as they are).</summary>
    public static RolloutTarget Target(RolloutTarget target)
    {
        if (target is null) return target!;
        var ns = Text(target.Namespace);
        return ReferenceEquals(ns, target.Namespace) ? target : target with { Namespace = ns };
    }

    /// <summary>The evidence with shared metric names and outcomes, its list an array of its own length. The same
    /// object when it already is so (setting a state's evidence twice keeps one reference: the persist filter's
    /// change test compares the list by reference).</summary>
    public static AnalysisEvidence Evidence(AnalysisEvidence evidence)
    {
        if (evidence?.Metrics is null) return evidence!;
        var compact = evidence.Metrics is MetricResult[];
        foreach (var m in evidence.Metrics)
            compact &= ReferenceEquals(m.Name, Text(m.Name)) && ReferenceEquals(m.Outcome, Text(m.Outcome)) &&
                       ReferenceEquals(m.Detail, OptionalText(m.Detail));
        if (compact) return evidence;
        var metrics = new MetricResult[evidence.Metrics.Count];
        for (var i = 0; i < metrics.Length; i++)
        {
            var m = evidence.Metrics[i];
            metrics[i] = m with { Name = Text(m.Name), Outcome = Text(m.Outcome), Detail = OptionalText(m.Detail) };
        }
        return evidence with { Metrics = metrics };
    }

    /// <summary>Plans equal by content: their lists compared item by item, every other field as the record compares it.
    /// A list this does not know of compares by reference, which can only miss a sharing, never join two different plans.</summary>
    private sealed class PlanComparer : IEqualityComparer<RolloutPlan>
    {
        public static readonly PlanComparer Instance = new();

        public bool Equals(RolloutPlan? a, RolloutPlan? b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null) return false;
            return a.Steps.SequenceEqual(b.Steps) && a.ApprovalAtWeights.SequenceEqual(b.ApprovalAtWeights) &&
                   SameAnalysis(a.Analysis, b.Analysis) && SameHooks(a.Hooks, b.Hooks) &&
                   a with { Steps = b.Steps, ApprovalAtWeights = b.ApprovalAtWeights, Analysis = b.Analysis, Hooks = b.Hooks } == b;
        }

        private static bool SameAnalysis(AnalysisSpec a, AnalysisSpec b) =>
            ReferenceEquals(a, b) || (a is not null && b is not null && a.Metrics.SequenceEqual(b.Metrics) && a with { Metrics = b.Metrics } == b);

        private static bool SameHooks(IReadOnlyList<HookSpec>? a, IReadOnlyList<HookSpec>? b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null || a.Count != b.Count) return false;
            for (var i = 0; i < a.Count; i++)
                if (!SameMetadata(a[i].Metadata, b[i].Metadata) || a[i] with { Metadata = b[i].Metadata } != b[i]) return false;
            return true;
        }

        private static bool SameMetadata(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b) =>
            ReferenceEquals(a, b) || (a is not null && b is not null && a.Count == b.Count &&
                                      a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value));

        public int GetHashCode(RolloutPlan plan)
        {
            var hash = new HashCode();
            foreach (var step in plan.Steps) hash.Add(step);
            hash.Add(plan.AnalysisInterval);
            hash.Add(plan.FailureLimit);
            hash.Add(plan.Analysis?.Metrics.Count);
            hash.Add(plan.Hooks?.Count);
            return hash.ToHashCode();
        }
    }
}
