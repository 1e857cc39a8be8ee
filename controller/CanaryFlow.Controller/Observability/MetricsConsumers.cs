using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Controller.Observability;

/// <summary>Feeds the rollout metrics from the bus: every transition snapshot and every analysis verdict, and the
/// deletion of a Canary, whose series then leave <c>/metrics</c>.</summary>
public sealed class RolloutMetricsConsumer(RolloutMetricsRecorder recorder) :
    IConsumer<RolloutTransitioned>, IConsumer<AnalysisPassed>, IConsumer<AnalysisFailed>, IConsumer<AnalysisInconclusive>, IConsumer<CanaryDeleted>
{
    public Task Consume(ConsumeContext<CanaryDeleted> context)
    {
        recorder.Forget(context.Message.CorrelationId);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<RolloutTransitioned> context)
    {
        recorder.Record(context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<AnalysisPassed> context) => Check(context.Message.CorrelationId, VerdictKind.Passed);

    public Task Consume(ConsumeContext<AnalysisFailed> context) => Check(context.Message.CorrelationId, VerdictKind.Failed);

    // A sequential tick without a decision yet is not a check outcome.
    public Task Consume(ConsumeContext<AnalysisInconclusive> context) => context.Message.Kind switch
    {
        InconclusiveKind.Accumulating => Task.CompletedTask,
        InconclusiveKind.NoData => Check(context.Message.CorrelationId, VerdictKind.NoData),
        _ => Check(context.Message.CorrelationId, VerdictKind.QueryError),
    };

    private Task Check(Guid correlationId, VerdictKind kind)
    {
        recorder.RecordCheck(correlationId, kind);
        return Task.CompletedTask;
    }
}

/// <summary>Counts consumer failures on every endpoint (each failed attempt, retries included).</summary>
public sealed class ConsumerErrorObserver(CanaryFlowMetrics metrics) : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class
    {
        metrics.RecordConsumerError(typeof(T).Name);
        return Task.CompletedTask;
    }
}
