using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Tells <see cref="AsksTaken"/> when one of the ticker's asks has been consumed on any receive endpoint of this
/// process (partition queues included), whether its consumer answered or failed.</summary>
public sealed class AsksTakenObserver(AsksTaken taken) : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class => Taken(context);

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Taken(context);

    private Task Taken<T>(ConsumeContext<T> context) where T : class
    {
        taken.Consumed(context.Message);
        if (taken.Sharded && context.SentTime is { } sent && Bus.PartitionTopology.TryPartitionOf(context.ReceiveContext.InputAddress, out var p))
            taken.Drained(p, sent);
        return Task.CompletedTask;
    }
}
