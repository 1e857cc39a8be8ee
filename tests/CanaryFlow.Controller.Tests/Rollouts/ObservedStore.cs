using System.Collections.Concurrent;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// The real file store with a window on its saves: how many of one rollout were under way at once, how many of any,
/// the version conflicts it raised; each save can be made to last a while (to widen any race), and one rollout's
/// first save can be made to wait until another rollout's save has begun (to prove the two run side by side).
/// </summary>
public sealed class ObservedStore(IRolloutStore inner) : IRolloutStore, IDisposable
{
    private readonly ConcurrentDictionary<Guid, int> _inFlight = new();
    private int _inFlightAll;
    private readonly TaskCompletionSource _otherBegan = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TimeSpan SaveTakes { get; set; }
    public (Guid Waits, Guid ForSaveOf)? Gate { get; set; }
    public int MaxOfOneRollout { get; private set; }
    public int MaxOfAll { get; private set; }
    private int _conflicts;
    public int Conflicts => _conflicts;
    public bool GateTimedOut { get; private set; }

    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) =>
        inner.LoadAllAsync(cancellationToken, fresh);

    public Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) => inner.LoadAsync(correlationId, cancellationToken);

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var id = state.CorrelationId;
        var mine = _inFlight.AddOrUpdate(id, 1, (_, n) => n + 1);
        var all = Interlocked.Increment(ref _inFlightAll);
        lock (_inFlight) (MaxOfOneRollout, MaxOfAll) = (Math.Max(MaxOfOneRollout, mine), Math.Max(MaxOfAll, all));
        try
        {
            if (Gate is { } gate)
            {
                if (id == gate.ForSaveOf) _otherBegan.TrySetResult();
                else if (id == gate.Waits && !_otherBegan.Task.IsCompleted)
                {
                    try { await _otherBegan.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken); }
                    catch (TimeoutException) { GateTimedOut = true; }
                }
            }
            if (SaveTakes > TimeSpan.Zero) await Task.Delay(SaveTakes, cancellationToken);
            await inner.SaveAsync(state, expectedVersion, cancellationToken);
        }
        catch (RolloutConcurrencyException)
        {
            Interlocked.Increment(ref _conflicts);
            throw;
        }
        finally
        {
            _inFlight.AddOrUpdate(id, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref _inFlightAll);
        }
    }

    public void Dispose() => (inner as IDisposable)?.Dispose();
}
