using System.Collections.Concurrent;
using System.Diagnostics;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Delivery;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Issue 5: a notification channel down for an hour of simulated time. The whole engine (saga, workers, ticker,
/// file store, in-memory bus) and the notification pipeline run on one fake clock, with the production
/// notification options; rollouts (some failing analysis) start during the outage; two signed-webhook channels
/// post to a real receiver on 127.0.0.1 that answers 503 and drops every third connection for 60 simulated
/// minutes, then 200. Tally: requests during the outage against the bound, delivered, lost, duplicates, order.
/// </summary>
public static class NotificationHourHarness
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Outage = TimeSpan.FromHours(1);
    private static readonly string[] Channels = ["audit", "ops"];

    /// <summary>Every RolloutTransitioned the bus carried: what the channels must get.</summary>
    public sealed class TransitionLog : IConsumer<RolloutTransitioned>
    {
        public static readonly ConcurrentDictionary<(Guid RolloutId, long Version), RolloutTransitioned> All = new();

        public Task Consume(ConsumeContext<RolloutTransitioned> context)
        {
            All[(context.Message.RolloutId, context.Message.Version)] = context.Message;
            return Task.CompletedTask;
        }
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var rollouts = ControllerSettings.IntArg(args, "--rollouts", 20);
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-25T15:00:00Z"));
        var start = clock.GetUtcNow();
        var work = Directory.CreateTempSubdirectory("canaryflow-notify-hour-").FullName;
        await using var receiver = await NotificationReceiver.StartAsync();
        (receiver.Down, receiver.DownStatus, receiver.DropEvery) = (true, 503, 3);

        var world = new InMemoryWorld();
        var targets = Enumerable.Range(0, rollouts).Select(i => new RolloutTarget("shop", $"svc-{i:D2}")).ToList();
        var faulty = targets.Where((_, i) => i % 3 == 2).ToHashSet();
        foreach (var t in targets) world[t].StableRevision = "v1";
        foreach (var t in faulty) world[t].Default = VerdictOutcome.Failed;
        var inFlight = new InFlightRequests();
        using var host = Build(work, receiver.Url, clock, world, inFlight);
        await host.StartAsync();
        var ledger = host.Services.GetRequiredService<NotificationLedger>();
        var bus = host.Services.GetRequiredService<IBus>();
        var plan = new RolloutPlan([20, 50, 100], TimeSpan.FromMinutes(1), FailureLimit: 2, 0, 0, TimeSpan.FromMinutes(30), [], false,
            new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 0.99)]));
        Console.WriteLine($"notification channel down for {Outage.TotalMinutes:F0} simulated minutes: {rollouts} rollouts ({faulty.Count} failing analysis) " +
                          $"start one every 90 s; channels {string.Join(", ", Channels)} answer 503 and drop every 3rd connection");

        var real = Stopwatch.StartNew();
        async Task StepAsync()
        {
            await inFlight.QuietAsync();
            clock.Advance(Step);
            await Task.Delay(2); // lets what the step woke up (ticks, retries, sends) start
        }
        for (var i = 0; i < targets.Count; i++)
        {
            while (clock.GetUtcNow() - start < TimeSpan.FromSeconds(90 * i)) await StepAsync();
            await bus.Publish(new RolloutRequested(RolloutIds.ForTarget(targets[i]), RolloutIds.ForRevision(targets[i], "v2"), targets[i], "v2", "v1",
                plan, "harness", "new revision", clock.GetUtcNow()));
        }
        var store = host.Services.GetRequiredService<IRolloutStore>();
        while (clock.GetUtcNow() - start < Outage) await StepAsync();
        var states = (await store.LoadAllAsync(CancellationToken.None)).ToDictionary(s => s.Target);
        var refused = Channels.ToDictionary(c => c, c => receiver.RefusedByDelivery.Where(r => r.Key.EndsWith(":" + c)).Sum(r => r.Value));
        var deliveredDuringOutage = receiver.Deliveries.Count;

        receiver.Down = false;
        var recoveredAt = clock.GetUtcNow();
        var expected = TransitionLog.All.Values.SelectMany(t => Channels.Select(c => Notification.KeyFor(t, c))).ToHashSet();
        while (clock.GetUtcNow() - recoveredAt < TimeSpan.FromMinutes(30) && (ledger.Pending.Count > 0 || !expected.IsSubsetOf(receiver.Deliveries)))
            await StepAsync();
        var allDeliveredAfter = clock.GetUtcNow() - recoveredAt;
        await host.StopAsync();

        var deliveries = receiver.Deliveries;
        var lost = expected.Count(k => !deliveries.Contains(k));
        var duplicates = deliveries.Count - deliveries.Distinct().Count();
        // A rollout's messages to a channel must arrive in version order: key = "{rolloutId}:{version}:{channel}".
        var outOfOrder = deliveries.Select(k => k.Split(':')).GroupBy(p => (p[0], p[2]))
            .Count(g => !g.Select(p => long.Parse(p[1])).SequenceEqual(g.Select(p => long.Parse(p[1])).Order()));
        var wrong = targets.Count(t => !states.TryGetValue(t, out var s)
                                       || s.CurrentState != (faulty.Contains(t) ? RolloutPhases.Failed : RolloutPhases.Succeeded));
        var bound = new RedeliverySchedule(host.Services.GetRequiredService<IOptions<NotificationOptions>>().Value).MaxRequestsDuring(Outage);

        Console.WriteLine($"  simulated outage                         {Outage.TotalMinutes:F0} min (run took {real.Elapsed.TotalSeconds:F1} s of real time)");
        Console.WriteLine($"  rollouts ended right during the outage   {rollouts - wrong}/{rollouts} ({rollouts - faulty.Count} Succeeded, {faulty.Count} Failed expected)");
        Console.WriteLine($"  notifications queued                     {expected.Count} ({TransitionLog.All.Count} transitions × {Channels.Length} channels)");
        foreach (var c in Channels)
            Console.WriteLine($"  {$"requests to '{c}' during the outage",-41}{refused[c]} (bound from the options {bound}; 503 or dropped)");
        Console.WriteLine($"  delivered during the outage              {deliveredDuringOutage}");
        Console.WriteLine($"  delivered after recovery                 {deliveries.Distinct().Count()} within {allDeliveredAfter.TotalMinutes:F1} simulated min");
        Console.WriteLine($"  lost                                     {lost}");
        Console.WriteLine($"  duplicates                               {duplicates}");
        Console.WriteLine($"  rollout/channel streams out of order     {outOfOrder}");
        var ok = wrong == 0 && lost == 0 && duplicates == 0 && outOfOrder == 0 && deliveredDuringOutage == 0 && refused.Values.All(r => r <= bound);
        Console.WriteLine(ok ? "notify-hour: OK" : "notify-hour: FAILED");
        Directory.Delete(work, recursive: true);
        return ok ? 0 : 1;
    }

    private static IHost Build(string work, Uri hook, FakeTimeProvider clock, InMemoryWorld world, InFlightRequests inFlight)
    {
        var builder = Host.CreateApplicationBuilder();
        var settings = new Dictionary<string, string?>
        {
            ["Bus:Transport"] = "InMemory",
            ["Rollouts:StateDirectory"] = Path.Combine(work, "state"),
            ["Rollouts:TickPeriod"] = "00:00:05",
            ["Rollouts:StallAfter"] = "00:02:00",
            ["Notifications:DataPath"] = Path.Combine(work, "notifications"),
        };
        for (var i = 0; i < Channels.Length; i++)
        {
            settings[$"Notifications:Channels:{Channels[i]}:Kind"] = "webhook";
            settings[$"Notifications:Channels:{Channels[i]}:Url"] = hook.ToString();
            settings[$"Notifications:Channels:{Channels[i]}:Secret"] = "harness-signing-secret-0123";
            settings[$"Notifications:Defaults:{i}"] = Channels[i];
        }
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSingleton<ITrafficRouter>(world).AddSingleton<IWorkloadController>(world).AddSingleton<IAnalysisRunner>(world);
        builder.Services.AddCanaryFlowEngine(builder.Configuration, x =>
        {
            x.AddCanaryFlowNotificationConsumers();
            x.AddConsumer<TransitionLog>();
        });
        builder.Services.AddCanaryFlowNotifications(builder.Configuration);
        builder.Services.AddHttpClient(ChannelHttpSender.HttpClientName).AddHttpMessageHandler(() => new InFlightRequests.Handler(inFlight));
        return builder.Build();
    }

    /// <summary>
    /// The fake clock waits while a notification request is on the wire (a fast network), so that a 10 s attempt
    /// timeout never fires on a request the receiver answers in a millisecond.
    /// </summary>
    private sealed class InFlightRequests
    {
        private int _count;

        public async Task QuietAsync()
        {
            for (var i = 0; i < 2000 && Volatile.Read(ref _count) > 0; i++) await Task.Delay(5);
        }

        public sealed class Handler(InFlightRequests owner) : DelegatingHandler
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref owner._count);
                try { return await base.SendAsync(request, cancellationToken); }
                finally { Interlocked.Decrement(ref owner._count); }
            }
        }
    }
}
