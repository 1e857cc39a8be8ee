namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// A token bucket on the injected clock: <paramref name="perMinute"/> messages a minute, bursts of
/// <paramref name="burst"/>. (System.Threading.RateLimiting's limiters replenish on the real clock, which a
/// test driving simulated hours cannot move.) Waits for a token rather than failing: the caller is the channel's
/// one worker, and a message that waits is still delivered.
/// </summary>
internal sealed class ChannelRateLimit(int perMinute, int burst, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly TimeSpan _perToken = TimeSpan.FromMinutes(1) / perMinute;
    private double _tokens = burst;
    private long _last = time.GetTimestamp();

    public async Task TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_lock)
            {
                var now = time.GetTimestamp();
                _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_last, now) / _perToken);
                _last = now;
                if (_tokens >= 1)
                {
                    _tokens--;
                    return;
                }
                wait = (1 - _tokens) * _perToken;
            }
            await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, time, cancellationToken);
        }
    }
}
