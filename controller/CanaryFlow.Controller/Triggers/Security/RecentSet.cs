namespace CanaryFlow.Controller.Triggers.Security;

/// <summary>
/// A bounded, thread-safe set of recently seen keys (delivery ids, target+digest pairs). Keys are
/// forgotten after <c>retention</c> or when more than <c>capacity</c> are held (oldest first), so memory
/// stays bounded however many requests arrive.
/// </summary>
public sealed class RecentSet(int capacity, TimeSpan retention, TimeProvider time)
{
    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, DateTimeOffset At)> _order = new();
    private readonly Lock _lock = new();

    /// <returns>False when the key was seen within the retention time.</returns>
    public bool TryAdd(string key)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Evict(now);
            if (_seen.TryGetValue(key, out var at) && now - at < retention) return false;
            _seen[key] = now;
            _order.Enqueue((key, now));
            return true;
        }
    }

    /// <summary>Forgets a key, e.g. when the work it stood for failed and a retry must be accepted.</summary>
    public void Remove(string key)
    {
        lock (_lock) _seen.Remove(key);
    }

    private void Evict(DateTimeOffset now)
    {
        while (_order.Count > 0 && (_order.Count > capacity || now - _order.Peek().At >= retention))
        {
            var (key, at) = _order.Dequeue();
            // Only drop the entry if it was not re-added later.
            if (_seen.TryGetValue(key, out var current) && current == at) _seen.Remove(key);
        }
    }
}
