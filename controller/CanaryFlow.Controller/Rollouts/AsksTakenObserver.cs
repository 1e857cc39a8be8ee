using MassTransit;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Tells <see cref="AsksTaken"/> when one of the ticker's asks has been consumed on any receive endpoint of this
/// process (partition queues included), whether its consumer answered or failed.</summary>
public sealed class AsksTakenObserver(AsksTaken taken) : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        taken.Consumed(context.Message);
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class
    {
        taken.Consumed(context.Message);
        return Task.CompletedTask;
    }
}
