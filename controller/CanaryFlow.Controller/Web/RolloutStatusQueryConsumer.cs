using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;

namespace CanaryFlow.Controller.Web;

/// <summary>
/// The status API's <c>GET /api/rollouts/{ns}/{name}</c> over the bus: lets a client that has only the
/// RabbitMQ address (the CLI) refuse a command for a target with no rollout, instead of publishing one
/// the saga would discard.
/// </summary>
public sealed class RolloutStatusQueryConsumer(IRolloutStore store, RolloutHistory history) : IConsumer<GetRolloutStatus>
{
    public async Task Consume(ConsumeContext<GetRolloutStatus> context)
    {
        var state = await RolloutsApi.FindAsync(store, context.Message.Target, context.CancellationToken);
        if (state is null) await context.RespondAsync(new RolloutNotFound(context.Message.Target));
        else await context.RespondAsync(RolloutsApi.View(state, history, withHistory: false));
    }
}
