using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications;
using CanaryFlow.Controller.Notifications.Delivery;
using CanaryFlow.Controller.Tests.Rollouts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CanaryFlow.Controller.Tests.Notifications;

/// <summary>Issue 5, "nothing promoted on missing data" under a channel outage: notifications never hold up the saga.</summary>
public sealed class DeadChannelRolloutTests
{
    private static readonly RolloutTarget Bad = new("shop", "bad");
    private static readonly RolloutTarget Good = new("shop", "good");

    [Fact]
    public async Task With_a_channel_that_never_answers_a_failing_canary_still_rolls_back_and_a_passing_one_promotes()
    {
        var dataPath = Directory.CreateTempSubdirectory("canaryflow-dead-channel-").FullName;
        await using var receiver = await RecordingReceiver.StartAsync();
        var never = new TaskCompletionSource();
        // Every request hangs until its attempt times out: the worst kind of dead channel.
        receiver.Script("ops", Enumerable.Repeat(new RecordingReceiver.Answer(503, Gate: never.Task), 1000).ToArray());
        var notifications = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Notifications:DataPath"] = dataPath,
            ["Notifications:Channels:ops:Kind"] = "webhook",
            ["Notifications:Channels:ops:Url"] = receiver.UrlFor("ops"),
            ["Notifications:Channels:ops:Secret"] = NotificationHost.WebhookSecret,
            ["Notifications:Defaults:0"] = "ops",
        }).Build();
        try
        {
            await using var e = await EngineUnderTest.StartAsync(extra: (services, bus) =>
            {
                services.AddCanaryFlowNotifications(notifications);
                bus.AddCanaryFlowNotificationConsumers();
            });
            var dispatcher = e.Services.GetRequiredService<NotificationDispatcher>();
            await dispatcher.StartAsync(CancellationToken.None);
            e.World[Bad].StableRevision = e.World[Good].StableRevision = "v1";
            e.World[Bad].Default = VerdictOutcome.Failed;
            await e.Request(Bad, "v2", TestPlans.Steps(20, 50, 100));
            await e.Request(Good, "v2", TestPlans.Steps(20, 50, 100));
            await e.Until(Bad, s => s.AppliedWeight == 20 && s.Pending == null, "bad canary at 20%");
            await e.Until(Good, s => s.AppliedWeight == 20 && s.Pending == null, "good canary at 20%");
            await receiver.WaitUntilAsync(r => r.Started("ops") > 0, "the first notification is hanging on the channel");

            await e.Tick(); // each tick is a minute: the hanging attempts time out and are retried meanwhile
            await e.Until(Bad, s => s.FailedChecks == 1 && s.Pending == null, "first failed check");
            await e.Until(Good, s => s.AppliedWeight == 50 && s.Pending == null && s.NextAnalysisAt != null, "good canary at 50%");
            await e.Tick();
            await e.Until(Bad, s => s.CurrentState == RolloutPhases.Failed, "rollback of the failing canary");
            await e.Until(Good, s => s.AppliedWeight == 100 && s.Pending == null && s.NextAnalysisAt != null, "good canary at 100%");
            await e.Tick();
            await e.Until(Good, s => s.CurrentState == RolloutPhases.Succeeded, "promotion of the passing canary");

            Assert.Equal([20, 0], e.World[Bad].AppliedWeights);
            Assert.Equal("v1", e.World[Bad].StableRevision);
            Assert.Equal([20, 50, 100, 0], e.World[Good].AppliedWeights);
            Assert.Equal("v2", e.World[Good].StableRevision);
            Assert.Empty(receiver.For("ops")); // nothing was taken by the channel...
            // ...and nothing lost: the final transitions wait in the ledger (they are published just after the state is saved).
            var ledger = e.Services.GetRequiredService<NotificationLedger>();
            await receiver.WaitUntilAsync(_ => ledger.Pending.Any(n => n.Transition.Target == Bad && n.Transition.Phase == RolloutPhases.Failed)
                                               && ledger.Pending.Any(n => n.Transition.Target == Good && n.Transition.Phase == RolloutPhases.Succeeded),
                "the final transitions are queued for the dead channel");
            await dispatcher.StopAsync(CancellationToken.None);
        }
        finally
        {
            never.SetResult();
            Directory.Delete(dataPath, recursive: true);
        }
    }
}
