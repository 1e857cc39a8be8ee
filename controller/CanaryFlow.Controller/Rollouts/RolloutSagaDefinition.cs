using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Endpoint settings of the rollout saga: bounded retries, outbox, durable state.</summary>
public sealed class RolloutSagaDefinition : SagaDefinition<RolloutState>
{
    public RolloutSagaDefinition() => EndpointName = "canaryflow-rollouts";

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpoint, ISagaConfigurator<RolloutState> saga, IRegistrationContext context)
    {
        // A write or send the fence refused is not tried again, as for the consumers (see RolloutBus): the partition's guard
        // hands the message to the next holder at once, instead of seconds of retries that the queue's stop cuts short.
        endpoint.UseMessageRetry(r =>
        {
            r.Exponential(5, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100));
            r.Ignore<Kubernetes.Leadership.NotLeaderException>();
        });
        endpoint.UseInMemoryOutbox(context);
        saga.UseFilter(new PersistRolloutFilter(context.GetRequiredService<IRolloutStore>()));
    }
}
