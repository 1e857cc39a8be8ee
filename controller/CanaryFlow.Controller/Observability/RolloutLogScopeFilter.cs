using System.Reflection;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Opens a logging scope with the rollout's ids around every consumed message, so that every line a
/// consumer, the saga or a worker logs carries them (shown by the JSON console and by the simple
/// console with scopes on). Messages name their rollout by the RolloutId / CorrelationId / Target
/// properties of the contracts; the property readers are built once per message type.
/// </summary>
public sealed class RolloutLogScopeFilter<T>(ILogger<RolloutLogScopeFilter<T>> logger) : IFilter<ConsumeContext<T>> where T : class
{
    private static readonly PropertyInfo? RolloutId = Find("RolloutId", typeof(Guid));
    private static readonly PropertyInfo? CorrelationId = Find("CorrelationId", typeof(Guid));
    private static readonly PropertyInfo? Target = typeof(T).GetProperty("Target");

    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        using (logger.BeginScope(ScopeFor(context.Message)))
            await next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("rolloutLogScope");

    internal static Dictionary<string, object?> ScopeFor(T message)
    {
        var scope = new Dictionary<string, object?> { ["MessageType"] = typeof(T).Name };
        if (RolloutId?.GetValue(message) is Guid rolloutId && rolloutId != Guid.Empty) scope["RolloutId"] = rolloutId;
        if (CorrelationId?.GetValue(message) is Guid correlationId) scope["CorrelationId"] = correlationId;
        if (Target?.GetValue(message) is { } target) scope["Target"] = target.ToString();
        return scope;
    }

    private static PropertyInfo? Find(string name, Type type) =>
        typeof(T).GetProperty(name) is { } p && p.PropertyType == type ? p : null;
}
