using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CanaryFlow.Controller.Kubernetes.Status;

/// <summary>
/// Each hook's outcome on its Canary: the last one per hook in <c>status.hooks</c> (name, type, outcome, message,
/// lastCallTime), and a Kubernetes Event (Warning unless ok). A confirm gate is asked every interval: its Event is
/// written when its answer changes, not at every "no".
/// </summary>
public sealed class CanaryHookRecorder(CanaryApi api, CanaryStatusWriter writer, ILogger<CanaryHookRecorder> logger) : IConsumer<HookCompleted>
{
    public const string Field = "hooks";

    public async Task Consume(ConsumeContext<HookCompleted> context)
    {
        var h = context.Message;
        Model.CanaryResource canary;
        try { canary = await api.FindForTargetAsync(h.Target, context.CancellationToken); }
        catch (CanaryNotFoundException e)
        {
            logger.LogDebug("{Message}: hook outcome not recorded", e.Message);
            return;
        }
        var changed = true;
        await writer.UpdateAsync(canary.Namespace, canary.Name, (_, status) => changed = Apply(status, h), context.CancellationToken);
        if (changed || !HookTypes.IsGate(h.Type))
            await api.RecordEventAsync(canary, h.Outcome == HookOutcomes.Ok ? "Normal" : "Warning", Reason(h.Outcome),
                $"{h.Type} hook {h.Name}: {h.Outcome}, {h.Detail}", h.At.UtcDateTime, context.CancellationToken);
    }

    /// <summary>Sets the hook's entry; true when its outcome differs from the one recorded before.</summary>
    public static bool Apply(JsonObject status, HookCompleted h)
    {
        var hooks = status[Field] as JsonArray ?? [];
        status[Field] = hooks;
        var existing = hooks.OfType<JsonObject>().FirstOrDefault(e => (string?)e["name"] == h.Name);
        var entry = new JsonObject
        {
            ["name"] = h.Name, ["type"] = h.Type, ["outcome"] = h.Outcome,
            ["message"] = h.Detail.Length > 1024 ? h.Detail[..1024] : h.Detail, ["lastCallTime"] = CanaryStatusView.Timestamp(h.At),
        };
        if (existing is null) { hooks.Add(entry); return true; }
        var changed = (string?)existing["outcome"] != h.Outcome;
        hooks[hooks.IndexOf(existing)] = entry;
        return changed;
    }

    /// <summary>"HookOk", "HookFailed", "HookUnreachable": the Event reason.</summary>
    public static string Reason(string outcome) => "Hook" + char.ToUpperInvariant(outcome[0]) + outcome[1..];
}
