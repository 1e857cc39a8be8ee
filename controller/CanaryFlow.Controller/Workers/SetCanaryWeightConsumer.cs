using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Workers;

/// <summary>Carries out <see cref="SetCanaryWeight"/>: desired weights applied and verified by the router.</summary>
public sealed class SetCanaryWeightConsumer(ITrafficRouter router, TimeProvider clock, ILogger<SetCanaryWeightConsumer> log)
    : IConsumer<SetCanaryWeight>
{
    public async Task Consume(ConsumeContext<SetCanaryWeight> context)
    {
        var m = context.Message;
        try
        {
            var before = await router.SetWeightsAsync(m.Target, m.Weight, m.Mirror, context.CancellationToken);
            await context.Publish(new TrafficShifted(m.CorrelationId, m.RolloutId, m.Target, before.Canary, m.Weight, m.Sequence, clock.GetUtcNow()));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The router already retried within its bounds; the saga notes it and the ticker re-sends later.
            log.LogWarning(e, "Setting canary weight {Weight}% for {Target} failed", m.Weight, m.Target);
            await context.Publish(new TrafficShiftFailed(m.CorrelationId, m.RolloutId, m.Weight, m.Sequence, e.Message, clock.GetUtcNow()));
        }
    }
}
