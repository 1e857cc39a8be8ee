namespace CanaryFlow.Controller.Rollouts;

/// <summary>
/// A fixed set of locks, one of which every rollout maps to (by its id): the saga repository holds a rollout's lock
/// from loading its state to the end of the message, so the messages of one rollout are handled one at a time, in turn.
/// Why striped: MassTransit's in-memory repository kept a semaphore, an index entry and a wrapper per rollout for the
/// rollout's whole life (~320 B each, docs/benchmarks.md); this costs a fixed ~64 KB whatever the number of rollouts.
/// The price: two rollouts on the same stripe wait for each other; at the default 32 messages in flight a message
/// meets an unrelated holder about 3 % of the time (31 / 1,024), for the length of one saga message.
/// </summary>
public sealed class RolloutLocks
{
    public const int Stripes = 1024; // a power of two: the stripe is the hash's low bits

    private readonly SemaphoreSlim[] _locks = Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>The stripe of <paramref name="id"/>; the same id always gives the same one.</summary>
    public static int StripeOf(Guid id) => id.GetHashCode() & (Stripes - 1);

    /// <summary>Waits for the rollout's lock; dispose the result to release it.</summary>
    public async ValueTask<Held> EnterAsync(Guid id, CancellationToken cancellationToken)
    {
        var stripe = _locks[StripeOf(id)];
        await stripe.WaitAsync(cancellationToken);
        return new Held(stripe);
    }

    /// <summary>Every lock, taken in order (so two callers never deadlock): no saga message runs until it is disposed.
    /// For reading the store afresh, which must not race a save (a list read before a save must not replace it).</summary>
    public async ValueTask<IDisposable> EnterAllAsync(CancellationToken cancellationToken)
    {
        var taken = 0;
        try
        {
            for (; taken < _locks.Length; taken++) await _locks[taken].WaitAsync(cancellationToken);
        }
        catch
        {
            for (var i = 0; i < taken; i++) _locks[i].Release();
            throw;
        }
        return new All(_locks);
    }

    public readonly struct Held(SemaphoreSlim stripe) : IDisposable
    {
        public void Dispose() => stripe.Release();
    }

    private sealed class All(SemaphoreSlim[] locks) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            foreach (var l in locks) l.Release();
        }
    }
}
