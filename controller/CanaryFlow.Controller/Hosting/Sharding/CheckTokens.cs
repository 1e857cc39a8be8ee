using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The checks (an <see cref="AnalysisDue"/>, or a <see cref="HooksDue"/>) a replica has begun or finished for one
/// partition during one holding: a second message for the same (rollout, kind, sequence) is dropped unless the first
/// failed, so that two tickers' copies of one check (the previous holder's still queued, and this one's) run it once.
/// A finished check is forgotten after <c>forgetAfter</c> (the ticker's stall wait): a copy sent again after that is
/// the ticker's recovery from a lost result, and runs.
/// </summary>
public sealed class CheckTokens(TimeProvider time, TimeSpan forgetAfter)
{
    private readonly Dictionary<(Guid Rollout, string Kind, long Sequence), (ulong Delivery, DateTimeOffset? Finished)> _checks = [];
    private readonly Lock _gate = new();
    private int _sinceSweep;

    /// <summary>The check a message asks for, if it asks for one.</summary>
    public static (Guid, string, long)? Of(object message) => message switch
    {
        AnalysisDue d => (d.CorrelationId, "analysis", d.Sequence),
        HooksDue h => (h.CorrelationId, h.Type, h.Sequence),
        _ => null,
    };

    /// <summary>True when the check may run now for <paramref name="delivery"/>: the same delivery again (a retry), or no
    /// other delivery of it is running or finished within forgetAfter.</summary>
    public bool TryBegin((Guid, string, long) check, ulong delivery)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (++_sinceSweep >= 256) Sweep(now);
            if (_checks.TryGetValue(check, out var seen) && seen.Delivery != delivery &&
                (seen.Finished is not { } at || now - at < forgetAfter)) return false;
            _checks[check] = (delivery, null);
            return true;
        }
    }

    public void Finished((Guid, string, long) check)
    {
        lock (_gate)
            if (_checks.TryGetValue(check, out var seen)) _checks[check] = (seen.Delivery, time.GetUtcNow());
    }

    /// <summary>It failed (it goes to retries, or to the error queue): a copy may run it again.</summary>
    public void Failed((Guid, string, long) check)
    {
        lock (_gate) _checks.Remove(check);
    }

    private void Sweep(DateTimeOffset now)
    {
        _sinceSweep = 0;
        foreach (var (key, seen) in _checks.ToList())
            if (seen.Finished is { } at && now - at >= forgetAfter) _checks.Remove(key);
    }
}
