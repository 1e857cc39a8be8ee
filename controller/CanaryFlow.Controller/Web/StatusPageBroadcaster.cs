using System.Threading.Channels;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Web;

/// <summary>What the live stream tells a status page: which rollout changed, to what.</summary>
public sealed record StatusChange(string Namespace, string Name, string Phase, int CanaryWeight, long Version, DateTimeOffset At);

/// <summary>
/// Fans transitions out to the status pages that follow the live stream. Each page gets a small
/// bounded queue that drops its oldest entries when the page reads too slowly, so a stuck browser can
/// never hold memory or slow the bus; the number of pages is capped.
/// </summary>
public sealed class StatusPageBroadcaster(IOptions<ObservabilityOptions> options)
{
    private const int QueuePerClient = 64;
    private readonly Lock _gate = new();
    private readonly List<Channel<StatusChange>> _clients = [];

    public int Clients { get { lock (_gate) return _clients.Count; } }

    /// <summary>A subscription, or null when <see cref="ObservabilityOptions.MaxStreamClients"/> pages already follow.</summary>
    public Subscription? Subscribe()
    {
        var channel = Channel.CreateBounded<StatusChange>(new BoundedChannelOptions(QueuePerClient)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            if (_clients.Count >= options.Value.MaxStreamClients) return null;
            _clients.Add(channel);
        }
        return new Subscription(this, channel);
    }

    public void Publish(RolloutTransitioned t)
    {
        var change = new StatusChange(t.Target.Namespace, t.Target.Name, t.Phase, t.CanaryWeight, t.Version, t.At);
        lock (_gate)
            foreach (var client in _clients) client.Writer.TryWrite(change);
    }

    private void Remove(Channel<StatusChange> channel)
    {
        lock (_gate) _clients.Remove(channel);
        channel.Writer.TryComplete();
    }

    public sealed class Subscription(StatusPageBroadcaster owner, Channel<StatusChange> channel) : IDisposable
    {
        public ChannelReader<StatusChange> Changes => channel.Reader;

        public void Dispose() => owner.Remove(channel);
    }
}

public sealed class StatusPageBroadcastConsumer(StatusPageBroadcaster broadcaster) : IConsumer<RolloutTransitioned>
{
    public Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        broadcaster.Publish(context.Message);
        return Task.CompletedTask;
    }
}
