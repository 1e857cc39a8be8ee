using CanaryFlow.Controller.Rollouts;

namespace CanaryFlow.Controller.Seams;

/// <summary>
/// Seam to durable rollout state: the Canary status in a cluster, a local folder for the embedded
/// default. Optimistic concurrency: <see cref="SaveAsync"/> succeeds only when the stored version
/// equals <paramref name="expectedVersion"/>, and stores <c>state.Version</c> (expectedVersion + 1).
/// </summary>
public interface IRolloutStore
{
    /// <summary>Snapshots of every stored rollout, as last saved. Read-only: callers that need to change
    /// one (the rehydrator) take a <see cref="RolloutState.Clone"/>.</summary>
    /// <param name="fresh">Read the durable copy itself, not a cache (a new leader loading its rollouts).</param>
    Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false);

    /// <summary>Reads afresh the durable copies of the rollouts <paramref name="which"/> selects (a partition just taken:
    /// another replica may have moved them on) and leaves every other snapshot as it is; returns how many of them it
    /// holds now. The caller runs no message of a selected rollout meanwhile, so no rollout lock is needed, and the other
    /// rollouts' messages go on. The default reads everything afresh: right for a store whose fresh read changes nothing
    /// held (one process owns the folder); a store that replaces snapshots on a fresh read overrides it.</summary>
    async Task<int> ReloadAsync(Func<Guid, bool> which, CancellationToken cancellationToken) =>
        (await LoadAllAsync(cancellationToken, fresh: true)).Count(s => which(s.CorrelationId));

    /// <summary>The snapshot of one rollout, or null. The default reads them all; stores that keep an index
    /// override it, so that a per-transition caller (the hook consumer) costs O(1), not O(rollouts).</summary>
    async Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) =>
        (await LoadAllAsync(cancellationToken)).FirstOrDefault(s => s.CorrelationId == correlationId);

    /// <summary>The snapshot this process holds of one rollout now, with no I/O and no relist: the saga repository reads it
    /// for every message (a relist started by each message would run many at once). The default is <see cref="LoadAsync"/>.</summary>
    Task<RolloutState?> HeldAsync(Guid correlationId, CancellationToken cancellationToken) => LoadAsync(correlationId, cancellationToken);

    /// <exception cref="RolloutConcurrencyException">The stored version is not <paramref name="expectedVersion"/>.</exception>
    Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken);
}

public sealed class RolloutConcurrencyException(Guid correlationId, long expected, long actual)
    : Exception($"Rollout {correlationId}: stored version {actual}, expected {expected}.");
