using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using MassTransit;

namespace CanaryFlow.Controller.Tests.Rollouts;

/// <summary>
/// A publish whose broker confirm never comes (RabbitMQ.Client 7.2 after a lost connection, rabbitmq-dotnet-client#1930)
/// must not stop the ticker: a kill run lost a broker node while a replica's ticker was publishing, and that replica's
/// rollouts stood still to the end of the run. The hang is made here by a send observer that waits until the publish is
/// cancelled; the bound runs on the engine's fake clock.
/// </summary>
public sealed class UnconfirmedPublishTests
{
    private static readonly RolloutTarget Target = new("shop", "checkout");

    [Fact]
    public async Task A_tick_whose_publish_is_never_confirmed_fails_after_the_bound_and_the_next_tick_asks_again()
    {
        await using var e = await EngineUnderTest.StartAsync();
        await e.Request(Target, "v2", TestPlans.Steps(10, 50));
        await e.Until(Target, s => s.AppliedWeight == 10 && s.Pending == null && s.NextAnalysisAt != null, "canary at 10%");

        var hanging = new NeverConfirmed();
        Task tick;
        using (e.Harness.Bus.ConnectPublishObserver(hanging))
        {
            tick = e.Tick(); // the analysis check is due: its publish hangs
            await hanging.Entered.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(tick.IsCompleted);

            e.Clock.Advance(BoundedPublish.Within);
            // A generous real-time guard only, so that a regression fails instead of hanging the run.
            var error = await Assert.ThrowsAsync<TimeoutException>(() => tick.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains(nameof(AnalysisDue), error.Message);
        }

        // The broker answers again: the same check is asked for at the next tick, and the rollout moves on.
        await e.TickUntil(() => e.World[Target].AppliedWeights.Contains(50), TimeSpan.FromSeconds(30), "the canary at 50%");
        Assert.Equal([10, 50], e.World[Target].AppliedWeights);
    }

    /// <summary>Holds every send until it is cancelled, as a publish waiting for a confirm that never comes.</summary>
    private sealed class NeverConfirmed : IPublishObserver
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Entered => _entered.Task;

        public async Task PrePublish<T>(PublishContext<T> context) where T : class
        {
            _entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }

        public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;
        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}
