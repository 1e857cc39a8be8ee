using System.Threading.Channels;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// One channel's queue: up to QueueCapacity messages in memory for its worker; beyond that they wait in the
/// ledger only (which keeps every pending message anyway) and are taken in queue order as the memory queue
/// drains. So a long outage drops nothing, and a message queued later never overtakes one waiting in the ledger.
/// </summary>
internal sealed class ChannelQueue(string channel, int capacity, NotificationLedger ledger)
{
    private readonly Channel<Notification> _memory = Channel.CreateBounded<Notification>(new BoundedChannelOptions(capacity) { SingleReader = true });
    private readonly Lock _gate = new();
    private bool _overflowing;

    /// <returns>True when the message went to memory; false when it waits in the ledger behind others.</returns>
    public bool Offer(Notification notification)
    {
        lock (_gate)
        {
            if (!_overflowing && _memory.Writer.TryWrite(notification)) return true;
            _overflowing = true;
            return false;
        }
    }

    /// <summary>The next message in queue order, waiting while there is none. Call it only once the previous one is done.</summary>
    public async ValueTask<Notification> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_memory.Reader.TryRead(out var next)) return next;
            if (Refill()) continue;
            await _memory.Reader.WaitToReadAsync(cancellationToken);
        }
    }

    // Runs only with the memory queue empty and no message in hand: every pending message of this channel is
    // then in the ledger only, and while overflowing no new one went to memory, so none is taken twice.
    private bool Refill()
    {
        lock (_gate)
        {
            if (!_overflowing) return false;
            foreach (var notification in ledger.PendingFor(channel))
                if (!_memory.Writer.TryWrite(notification)) return true;
            _overflowing = false;
            return true;
        }
    }
}
