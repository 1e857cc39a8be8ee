namespace CanaryFlow.Controller.Tests.Triggers;

/// <summary>
/// Test classes that post refused webhooks move the process-wide trigger counters; a test that asserts "counted
/// once" must not run beside them.
/// </summary>
[CollectionDefinition(Name)]
public sealed class WebhookCounters
{
    public const string Name = "webhook counters";
}
