using System.Text.Json;
using CanaryFlow.Controller.Triggers.Registries;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers;

public static class RegistryWebhookEndpoints
{
    /// <summary>
    /// Maps POST {prefix}/dockerhub/{token}, /harbor, /github, /acr, /cloudevents. Every request goes
    /// through the same steps: size limit (413), authentication (401), parsing (400), replay checks
    /// (401 outside the window, 202 for a delivery already handled), then matching (202).
    /// </summary>
    public static IEndpointRouteBuilder MapRegistryWebhooks(this IEndpointRouteBuilder app, string prefix = "/webhooks/registry")
    {
        var group = app.MapGroup(prefix);
        foreach (var receiver in app.ServiceProvider.GetServices<IRegistryReceiver>())
            group.MapPost(receiver.Route, (Delegate)((HttpContext context) => HandleAsync(context, receiver)));
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, IRegistryReceiver receiver)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<RegistryWebhookOptions>>().Value;
        var replay = services.GetRequiredService<DeliveryReplayGuard>();
        var logger = services.GetRequiredService<ILogger<ImagePushHandler>>();
        var name = receiver.GetType().Name;
        var registry = receiver.Route.Split('/')[0];
        IResult Counted(string result, IResult response)
        {
            TriggerMetrics.Requests.WithLabels(registry, result).Inc();
            return response;
        }

        var body = await BoundedBody.ReadAsync(context, options.MaxBodyBytes);
        if (body is null) return Counted("too_large", Results.Problem("The body is larger than allowed.", statusCode: StatusCodes.Status413PayloadTooLarge));
        if (!receiver.IsAuthentic(context.Request, body))
        {
            logger.LogWarning("{Receiver}: refused a request with a missing or invalid signature/secret", name);
            return Counted("unauthorized", Results.Problem("Missing or invalid signature or secret.", statusCode: StatusCodes.Status401Unauthorized));
        }

        RegistryDelivery delivery;
        try { delivery = receiver.Read(context.Request, body); }
        catch (Exception e) when (e is JsonException or MalformedPayloadException)
        {
            return Counted("malformed", Results.Problem($"Malformed payload: {e.Message}", statusCode: StatusCodes.Status400BadRequest));
        }

        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (delivery.SentAt is { } sentAt && (now - sentAt).Duration() > options.ReplayWindow)
            return Counted("stale", Results.Problem("The event is outside the replay window.", statusCode: StatusCodes.Status401Unauthorized));
        var deliveryKey = delivery.DeliveryId is null ? null : $"{name}:{delivery.DeliveryId}";
        if (deliveryKey is not null && !replay.TryAccept(deliveryKey))
            return Counted("duplicate", Results.Accepted(value: new { status = "duplicate delivery, ignored" }));

        try
        {
            var result = await services.GetRequiredService<ImagePushHandler>().HandleAsync(delivery.Pushes, context.RequestAborted);
            TriggerMetrics.ImagesSet.Inc(result.Updated.Count);
            return Counted(result.Matched == 0 ? "untracked" : "matched",
                Results.Accepted(value: new { status = result.Matched == 0 ? "no tracked target" : "matched", result.Matched, result.Updated }));
        }
        catch (Exception e)
        {
            // Not handled: the publisher's retry of this delivery must be accepted, not taken for a replay.
            if (deliveryKey is not null) replay.Forget(deliveryKey);
            if (e is OperationCanceledException) throw;
            logger.LogError(e, "{Receiver}: could not apply a pushed image", name);
            return Counted("error", Results.Problem("Could not apply the image now; retry later.", statusCode: StatusCodes.Status503ServiceUnavailable));
        }
    }
}

/// <summary>Remembers delivery ids for the replay check (bounded in count and time).</summary>
public sealed class DeliveryReplayGuard(IOptions<RegistryWebhookOptions> options, TimeProvider time)
{
    private readonly RecentSet _seen = new(options.Value.MaxRememberedDeliveries, options.Value.DeliveryIdRetention, time);

    public bool TryAccept(string deliveryKey) => _seen.TryAdd(deliveryKey);

    public void Forget(string deliveryKey) => _seen.Remove(deliveryKey);
}
