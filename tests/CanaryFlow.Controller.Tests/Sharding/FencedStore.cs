using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// One replica's view of a store shared by the replicas, behind that replica's write fence as the Canary-status store
/// is: a save for a partition the replica no longer holds is refused with <see cref="NotLeaderException"/>. A save can be
/// held at a gate (<see cref="HoldNextSave"/>) so that a test closes the fence while it is under way.
/// </summary>
public sealed class FencedStore(IRolloutStore inner, IPartitionOwnership ownership) : IRolloutStore
{
    private TaskCompletionSource? _held;
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The next save waits for <see cref="Release"/>; <see cref="Held"/> completes when it starts waiting.</summary>
    public void HoldNextSave() => _held = _gate;
    public Task Held => _entered.Task;
    public void Release() => _gate.TrySetResult();

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _held, null) is { } gate)
        {
            _entered.TrySetResult();
            await gate.Task.WaitAsync(cancellationToken);
        }
        var partition = RolloutPartitions.Of(state.CorrelationId, ownership.Partitions);
        if (!ownership.Owns(partition)) throw new NotLeaderException("PUT", $"canary status of partition {partition}");
        await inner.SaveAsync(state, expectedVersion, cancellationToken);
    }

    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) => inner.LoadAllAsync(cancellationToken, fresh);
    public Task<int> ReloadAsync(Func<Guid, bool> which, CancellationToken cancellationToken) => inner.ReloadAsync(which, cancellationToken);
    public Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) => inner.LoadAsync(correlationId, cancellationToken);
    public Task<RolloutState?> HeldAsync(Guid correlationId, CancellationToken cancellationToken) => inner.HeldAsync(correlationId, cancellationToken);
}
