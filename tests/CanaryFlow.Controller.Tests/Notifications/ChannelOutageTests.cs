using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.DependencyInjection;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>
/// Issue 5: a notification channel down for an hour of simulated time. A real receiver on 127.0.0.1 answers
/// 503 and drops connections while down; delivery runs on a fake clock with the production retry options.
/// </summary>
public sealed class ChannelOutageTests : IAsyncLifetime
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Outage = TimeSpan.FromHours(1);
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromMinutes(20);

    private readonly string _dataPath = Directory.CreateTempSubdirectory("canaryflow-outage-").FullName;
    private readonly SimulatedClock _clock = new();
    private RecordingReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await RecordingReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        Directory.Delete(_dataPath, recursive: true);
    }

    [Fact]
    public async Task An_hour_long_outage_loses_nothing_and_each_message_arrives_once_in_order_after_recovery_at_a_bounded_cost()
    {
        string[] channels = ["audit", "ops"];
        foreach (var c in channels) _receiver.SetDown(c, true);
        var traffic = OutageTraffic.Schedule();
        await using var host = await StartAsync(channels);

        await FeedAsync(host, traffic, until: Outage);
        var refused = channels.ToDictionary(c => c, c => _receiver.For(c).Count);
        foreach (var c in channels) _receiver.SetDown(c, false);
        // Until every message is taken and marked done (the receiver records a 200 just before the dispatcher reads it).
        await _clock.RunUntilAsync(Outage + RecoveryLimit, Step, () => channels.All(c => Delivered(c).Count >= traffic.Count) && host.Ledger.Pending.Count == 0);

        foreach (var c in channels) AssertDeliveredOnceInOrder(c, traffic);
        Assert.Empty(host.Ledger.Pending);
        // No retry storm: only the head of a channel's queue is tried, in rounds after 1, 2, 4, then every 5 minutes,
        // each of at most MaxAttempts requests: 14 rounds, 70 requests an hour with the defaults (the circuit
        // breaker, one probe per 30 s break, cuts most rounds to a single request).
        var bound = new RedeliverySchedule(Options(host)).MaxRequestsDuring(Outage);
        Assert.Equal(70, bound);
        foreach (var c in channels) Assert.InRange(refused[c], 1, bound);
    }

    [Fact]
    public async Task Messages_queued_before_a_restart_mid_outage_are_kept_in_the_ledger_and_delivered_once_in_order_by_the_new_dispatcher()
    {
        _receiver.SetDown("audit", true);
        var traffic = OutageTraffic.Schedule();
        var restartAt = TimeSpan.FromMinutes(15);
        var beforeRestart = traffic.Where(t => t.At < restartAt).ToList();
        await using (var first = await StartAsync(["audit"]))
            await FeedAsync(first, beforeRestart, until: restartAt);

        using (var ledger = new NotificationLedger(Microsoft.Extensions.Options.Options.Create(new NotificationOptions { DataPath = _dataPath }), _clock.Time))
            Assert.Equal(beforeRestart.Select(t => Key(t.Transition, "audit")), ledger.Pending.Select(n => n.Key));
        var refusedBefore = _receiver.For("audit").Count;

        await using var second = await StartAsync(["audit"]);
        foreach (var (_, t) in beforeRestart.Take(3)) await second.PublishAndConsumeAsync(t); // redelivered by the bus after the restart
        await FeedAsync(second, traffic.Except(beforeRestart).ToList(), until: Outage);
        var refused = _receiver.For("audit").Count;
        _receiver.SetDown("audit", false);
        await _clock.RunUntilAsync(Outage + RecoveryLimit, Step, () => Delivered("audit").Count >= traffic.Count);

        AssertDeliveredOnceInOrder("audit", traffic);
        var schedule = new RedeliverySchedule(Options(second));
        Assert.InRange(refusedBefore, 1, schedule.MaxRequestsDuring(restartAt));
        Assert.InRange(refused - refusedBefore, 1, schedule.MaxRequestsDuring(Outage - restartAt));
    }

    [Fact]
    public async Task Messages_beyond_the_queue_capacity_wait_in_the_ledger_and_are_delivered_once_in_order()
    {
        _receiver.SetDown("small", true);
        var traffic = OutageTraffic.Schedule();
        await using var host = await StartAsync(["small"], new Dictionary<string, string?> { ["Notifications:Channels:small:QueueCapacity"] = "2" });
        await FeedAsync(host, traffic, until: TimeSpan.FromMinutes(30));
        Assert.Equal(traffic.Count, host.Ledger.PendingFor("small").Count); // 20 pending, 2 of them in memory: none dropped
        _receiver.SetDown("small", false);
        await _clock.RunUntilAsync(TimeSpan.FromMinutes(30) + RecoveryLimit, Step, () => Delivered("small").Count >= traffic.Count && host.Ledger.Pending.Count == 0);
        AssertDeliveredOnceInOrder("small", traffic);
    }

    [Fact]
    public async Task A_message_is_tried_until_MaxAge_then_given_up_and_counted_expired()
    {
        _receiver.SetDown("expiring", true);
        var expiredBefore = NotificationMetrics.Messages.WithLabels("expiring", "expired").Value;
        await using var host = await StartAsync(["expiring"], new Dictionary<string, string?> { ["Notifications:MaxAge"] = "02:00:00" });
        var (_, transition) = OutageTraffic.Schedule()[0];
        await host.PublishAndConsumeAsync(transition);
        var key = Key(transition, "expiring");

        await _clock.RunUntilAsync(TimeSpan.FromMinutes(119), TimeSpan.FromSeconds(15));
        Assert.False(host.Ledger.IsDone(key));
        var refusedBeforeMaxAge = _receiver.For("expiring").Count;
        await _clock.RunUntilAsync(TimeSpan.FromMinutes(130), TimeSpan.FromSeconds(15), () => host.Ledger.IsDone(key));
        Assert.True(host.Ledger.IsDone(key), "given up after MaxAge");
        Assert.True(_receiver.For("expiring").Count > refusedBeforeMaxAge, "one last round at MaxAge");
        Assert.Equal(expiredBefore + 1, NotificationMetrics.Messages.WithLabels("expiring", "expired").Value);

        _receiver.SetDown("expiring", false);
        await _clock.RunUntilAsync(TimeSpan.FromMinutes(140), TimeSpan.FromSeconds(15));
        Assert.Empty(Delivered("expiring"));
    }

    private Task<NotificationHost> StartAsync(string[] channels, Dictionary<string, string?>? extra = null)
    {
        // The production retry options (the shared host shortens them for the real-time tests).
        var settings = new Dictionary<string, string?> { ["Notifications:RetryBaseDelay"] = "00:00:01", ["Notifications:MaxAttempts"] = "5" };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return NotificationHost.StartAsync(_dataPath, channels.ToDictionary(c => c, c => ("webhook", _receiver.UrlFor(c))), settings, configure: services =>
        {
            _clock.Register(services);
            // Simulated hours pass with no bus traffic: the harness must not call itself inactive meanwhile
            // (an inactive harness answers Consumed.Any at once, without waiting for the consumer).
            services.Configure<TestHarnessOptions>(o => (o.TestTimeout, o.TestInactivityTimeout) = (TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5)));
        });
    }

    private static NotificationOptions Options(NotificationHost host) => host.Services.GetRequiredService<IOptions<NotificationOptions>>().Value;

    /// <summary>Publishes each transition when the simulated clock reaches its time, then runs the clock on to <paramref name="until"/>.</summary>
    private async Task FeedAsync(NotificationHost host, IReadOnlyList<(TimeSpan At, RolloutTransitioned Transition)> traffic, TimeSpan until)
    {
        foreach (var (at, transition) in traffic)
        {
            await _clock.RunUntilAsync(at, Step);
            await host.PublishAndConsumeAsync(transition);
        }
        await _clock.RunUntilAsync(until, Step);
    }

    private static string Key(RolloutTransitioned t, string channel) => Notification.KeyFor(t, channel);

    private List<string> Delivered(string channel) =>
        [.. _receiver.For(channel).Where(r => r.Status == 200).Select(r => r.Headers[SignedWebhookNotifier.DeliveryHeader])];

    // One channel's queue is FIFO: every message exactly once, in publishing order (so in order per rollout), none lost.
    private void AssertDeliveredOnceInOrder(string channel, IReadOnlyList<(TimeSpan At, RolloutTransitioned Transition)> traffic)
    {
        var expected = traffic.Select(t => Key(t.Transition, channel)).ToList();
        Assert.Equal(expected, Delivered(channel));
        Assert.Contains(traffic, t => t.Transition.Phase == RolloutPhases.Failed); // a rollback is among them
    }
}
