using System.Collections.Concurrent;
using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Keeps sequential analysis from writing the Canary status at every tick. A tick that only moves the running
/// evidence (the test's counts, the last check, when the next is due) changes nothing a person reads in the
/// status (phase, weight, step, checks, message, the Holding condition): such a save is held in memory and written
/// with the next change people see, or after <see cref="KubernetesOptions.EvidenceWriteInterval"/> at the latest.
/// At 1,000 Canaries and a 5 s tick that is the difference between ~200 status writes a second and ~33 (30 s).
/// Safe to lose on a crash: the evidence is built from differences of cumulative counters, so a controller that
/// resumes from an older save counts the same requests in its first increment; nothing is missed or counted twice.
/// Optimistic concurrency still holds: a write after held saves expects the version last written, not the
/// in-memory one.
/// </summary>
public sealed class EvidenceWriteThrottle(TimeSpan interval)
{
    private sealed record Written(long Version, RolloutState Snapshot, DateTimeOffset At);

    /// <summary>Equal in everything but the fields that move at every tick and are not shown to people as they move.</summary>
    private static readonly Func<RolloutState, RolloutState, bool> SameVisible = StateFields.SameExcept(
        nameof(RolloutState.Version), nameof(RolloutState.SequentialEvidence), nameof(RolloutState.LastEvidence),
        nameof(RolloutState.LastAnalysisAt), nameof(RolloutState.NextAnalysisAt), nameof(RolloutState.AnalysisSequence));

    private readonly ConcurrentDictionary<Guid, Written> _written = new();

    /// <summary>True when the save may be held: nothing people read changed since the last write, which is recent.</summary>
    public bool MayHold(RolloutState state, long expectedVersion, DateTimeOffset now) =>
        interval > TimeSpan.Zero && _written.TryGetValue(state.CorrelationId, out var w) && expectedVersion >= w.Version
        && now - w.At < interval && SameVisible(w.Snapshot, state);

    /// <summary>The version the durable copy should have: the last one written when saves were held since.</summary>
    public long StoredVersion(Guid id, long expectedVersion) =>
        _written.TryGetValue(id, out var w) && w.Version <= expectedVersion ? w.Version : expectedVersion;

    public void Wrote(RolloutState state, DateTimeOffset now) => _written[state.CorrelationId] = new(state.Version, Visible(state), now);

    // The copy is only compared by SameVisible, which skips the evidence: without it, it is a few hundred bytes instead of
    // ~5 KB (the running evidence's text and the last verdict's), at 1,000 Canaries ~4 MB of the live heap
    // (docs/benchmarks.md, 2026-12-04).
    private static RolloutState Visible(RolloutState state)
    {
        var copy = state.Clone();
        copy.SequentialEvidence = null;
        copy.LastEvidence = null;
        return copy;
    }

    /// <summary>The durable copy turned out different: forget what this replica held.</summary>
    public void Forget(Guid id) => _written.TryRemove(id, out _);

    /// <summary>Whether the durable copy's version is the one this replica wrote last (no other writer since).</summary>
    public bool WroteLast(Guid id, long storedVersion) => _written.TryGetValue(id, out var w) && w.Version == storedVersion;

    /// <summary>The durable copies were read again: keep only what <paramref name="stillValid"/> says nobody overwrote.</summary>
    public void ForgetUnless(Func<Guid, bool> stillValid)
    {
        foreach (var id in _written.Keys.Where(id => !stillValid(id))) _written.TryRemove(id, out _);
    }
}
