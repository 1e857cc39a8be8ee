using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Endpoint settings of the rollout saga: bounded retries, outbox, durable state.</summary>
public sealed class RolloutSagaDefinition : SagaDefinition<RolloutState>
{
    public RolloutSagaDefinition() => EndpointName = "canaryflow-rollouts";

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpoint, ISagaConfigurator<RolloutState> saga, IRegistrationContext context)
    {
        endpoint.UseMessageRetry(r => r.Exponential(5, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100)));
        endpoint.UseInMemoryOutbox(context);
        saga.UseFilter(new PersistRolloutFilter(context.GetRequiredService<IRolloutStore>()));
    }
}
