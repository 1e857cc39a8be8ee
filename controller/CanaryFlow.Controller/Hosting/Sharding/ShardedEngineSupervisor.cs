using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Rollouts;
using MassTransit;
using MassTransit.Configuration;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The engine of one of several active replicas (issue 15). The bus starts at once, with no queue of its own for rollout
/// messages; for each partition this replica takes (<see cref="IPartitionOwnership.Changes"/>) it loads that partition's
/// rollouts from the store, then connects the partition's queue (single active consumer) with the saga and every
/// consumer on it; for each partition it gives up (the write fence is already closed then) it stops that queue and
/// drops the rollouts from memory. The ticker runs over the partitions whose holding has passed its barrier (see
/// <see cref="PartitionHolding"/>), and each partition's checks run once per holding (see <see cref="CheckTokens"/>). A
/// partition whose queue gives this replica nothing for <see cref="ShardingOptions.ConsumerSilentAfter"/> is given up
/// (see <see cref="SilentPartitions"/>).
/// </summary>
public sealed class ShardedEngineSupervisor(
    IPartitionOwnership ownership,
    RolloutRehydrator rehydrator,
    IBusControl bus,
    IReceiveEndpointConnector connector,
    RolloutTicker ticker,
    ConsumingPartitions consuming,
    SilentPartitions silentPartitions,
    EngineReady ready,
    IOptions<BusOptions> busOptions,
    IOptions<RolloutEngineOptions> engineOptions,
    IOptions<ShardingOptions> shardingOptions,
    TimeProvider time,
    ILogger<ShardedEngineSupervisor> log) : BackgroundService
{
    private readonly ConcurrentDictionary<int, HostReceiveEndpointHandle> _handles = new();

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Every partition's queue exists (and is bound) before the first rollout message is published for it.
        await PartitionTopology.DeclareAsync(busOptions.Value, ownership.Partitions, cancellationToken);
        await bus.StartAsync(cancellationToken); // publishing works from the start (webhooks, watch); consuming per partition
        ready.Set();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ticking = TickAsync(stoppingToken);
        var listening = ListenAsync(stoppingToken);
        try
        {
            while (await ownership.Changes.WaitToReadAsync(stoppingToken))
            {
                // Take every change waiting: the rollouts of all partitions gained together are loaded with one list.
                var batch = new List<PartitionChange>();
                while (ownership.Changes.TryRead(out var change)) batch.Add(change);
                await ApplyAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        try { await Task.WhenAll(ticking, listening); } catch (OperationCanceledException) { }
    }

    /// <summary>
    /// Gives up each held partition whose queue gave this replica nothing for <see cref="ShardingOptions.ConsumerSilentAfter"/>,
    /// and keeps the quiet ones talking with a heartbeat through their queue (see <see cref="PartitionHeartbeat"/>). A
    /// heartbeat's send is not awaited here: one that hangs must not hold up the other partitions' checks.
    /// </summary>
    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        var silentAfter = shardingOptions.Value.ConsumerSilentAfter;
        using var timer = new PeriodicTimer(silentAfter / 6, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                foreach (var holding in consuming.Holdings)
                {
                    try { await ListenAsync(holding, silentAfter, stoppingToken); }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogWarning("Partition {Partition}: listening to its queue failed ({Error}); trying again", holding.Partition, e.Message);
                    }
                }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    private async Task ListenAsync(PartitionHolding holding, TimeSpan silentAfter, CancellationToken stoppingToken)
    {
        var silent = time.GetUtcNow() - holding.HeardAt;
        if (silent < silentAfter || !_handles.ContainsKey(holding.Partition))
        {
            if (holding.StartHeartbeat()) _ = HeartbeatAsync(holding, stoppingToken);
            return;
        }
        if (!ownership.Owns(holding.Partition)) return; // already given up or lost: its queue is stopping
        log.LogError("Partition {Partition}: nothing taken off its queue for {Silent:0} s, not even this replica's heartbeat; " +
                     "giving it up so that a replica that can serve it takes it", holding.Partition, silent.TotalSeconds);
        silentPartitions.GaveUp(holding.Partition, time.GetUtcNow(), silent);
        await ownership.GiveUpAsync(holding.Partition);
    }

    private async Task HeartbeatAsync(PartitionHolding holding, CancellationToken ct)
    {
        try
        {
            await SendToOwnQueueAsync(holding, new PartitionHeartbeat(holding.Partition, holding.Id), PartitionReceiveFilter.HeartbeatHeader, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            log.LogWarning("Partition {Partition}: heartbeat not sent ({Error})", holding.Partition, e.Message);
        }
        catch (OperationCanceledException) { }
        finally { holding.HeartbeatSent(); }
    }

    /// <summary>The ticker, for as long as the host runs: a tick that fails in a way the ticker does not absorb (a publish
    /// cancelled while the broker node it was connected to went away) must not end it, or this replica's rollouts would
    /// wait for a check, or a lost command, forever. (The single leader stops its process instead; here the other
    /// partitions of this replica are healthy.)</summary>
    private async Task TickAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await ticker.RunAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                log.LogWarning("The ticker stopped ({Error}); starting it again", e.Message);
                try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task ApplyAsync(List<PartitionChange> batch, CancellationToken ct)
    {
        // A partition lost anywhere in the batch is stopped and unloaded: another replica may have held it in between,
        // so what is in memory for it is stale. Then the last word per partition says whether it is gained again.
        foreach (var lost in batch.Where(c => !c.Held).Select(c => c.Partition).Distinct()) await StopAsync(lost);
        var last = batch.GroupBy(c => c.Partition).Select(g => g.Last()).ToList();
        var gained = last.Where(c => c.Held && ownership.Owns(c.Partition) && !_handles.ContainsKey(c.Partition)).Select(c => c.Partition).ToHashSet();
        if (gained.Count > 0)
        {
            try
            {
                var loaded = await rehydrator.LoadAsync(id => gained.Contains(RolloutPartitions.Of(id, ownership.Partitions)), ct);
                // Side by side (each waits for its queue to be ready, seconds on a loaded broker), and only those still held:
                // a hand-over asked for meanwhile may have closed the fence, and a queue connected after that would take
                // messages it can only hand back.
                gained.RemoveWhere(p => !ownership.Owns(p));
                await Task.WhenAll(gained.Select(p => ConnectAsync(p, ct)));
                log.LogInformation("Consuming partitions {Partitions} ({Count} rollouts loaded)", string.Join(",", gained.Order()), loaded);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The lease stays held: the next round of the lease loop does not re-announce it, so give up those not
                // consuming (fence closed) and let them expire to a replica that can serve them.
                log.LogError(e, "Could not start consuming partitions {Partitions}", string.Join(",", gained));
                foreach (var p in gained.Where(p => !_handles.ContainsKey(p))) await ownership.GiveUpAsync(p);
            }
        }
        foreach (var c in batch) c.Done.TrySetResult();
    }

    /// <summary>How long the barrier waits for the messages sent before it (a slow check among them) to be consumed.</summary>
    private static readonly TimeSpan BarrierWithin = TimeSpan.FromMinutes(2);

    private async Task ConnectAsync(int p, CancellationToken ct)
    {
        var o = busOptions.Value;
        var holding = consuming.Connecting(p, new CheckTokens(time, engineOptions.Value.StallAfter), time);
        var handle = connector.ConnectReceiveEndpoint(PartitionTopology.QueueName(p), (context, e) =>
        {
            if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
            {
                PartitionTopology.ConfigureQueue(rabbit, p, o.RabbitMq.QuorumQueues);
                rabbit.PrefetchCount = o.ConcurrentMessageLimit;
            }
            e.ConcurrentMessageLimit = o.ConcurrentMessageLimit;
            e.ConfigureReceive(r => r.UseFilter(new PartitionReceiveFilter(holding, BarrierWithin, log)));
            e.UseFilter(new PartitionGuardFilter(holding, ownership, bus, time, log));
            e.DiscardSkippedMessages(); // an event no consumer here wants (e.g. RolloutStarted) is not kept in a _skipped queue
            // One by one: ConfigureSagas/ConfigureConsumers put each registration on the first endpoint only.
            e.ConfigureSaga<RolloutState>(context);
            foreach (var consumer in context.GetServices<IConsumerRegistration>().Select(r => r.Type).Distinct())
                e.ConfigureConsumer(context, consumer);
        });
        await handle.Ready.WaitAsync(TimeSpan.FromSeconds(30), ct);
        _handles[p] = handle;
        // The barrier: behind everything already in the queue (the previous holder's last results above all).
        await SendToOwnQueueAsync(holding, new PartitionTaken(p, holding.Id), PartitionReceiveFilter.MarkerHeader, ct);
    }

    /// <summary>A message of this holding's own through its partition's queue, marked by <paramref name="header"/> with
    /// the holding's id (the receive filter tells its own from an earlier holder's by it).</summary>
    private async Task SendToOwnQueueAsync<T>(PartitionHolding holding, T message, string header, CancellationToken ct) where T : class
    {
        var queue = await bus.GetSendEndpoint(new Uri($"exchange:{PartitionTopology.QueueName(holding.Partition)}"));
        await queue.SendWithin(message, c => c.Headers.Set(header, holding.Id.ToString()), time, ct);
    }

    private async Task StopAsync(int p)
    {
        consuming.Stopped(p);
        if (!_handles.TryRemove(p, out var handle)) return;
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await handle.StopAsync(grace.Token); }
        catch (Exception e) { log.LogWarning("Stopping partition {Partition}'s queue: {Error}", p, e.Message); }
        log.LogInformation("Stopped consuming partition {Partition}", p);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await bus.StopAsync(grace.Token);
            ready.SetStopped(); // the partition Leases may now be handed back at once
        }
        catch (OperationCanceledException) { log.LogWarning("The bus did not stop within 10 s"); }
    }
}
