using System.Text.Json;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// CloudEvents 1.0 over HTTP, structured mode (Content-Type application/cloudevents+json, the event as
/// the body) and binary mode (ce-* headers, the body is the data). The data may be Harbor's event data,
/// an ACR event, or a plain {"repository", "tag", "digest"} object. Source + id identify an event.
/// </summary>
public sealed class CloudEventsReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "cloudevents";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.SecretsEqual(request.Headers[options.Value.CloudEvents.HeaderName].ToString(), options.Value.CloudEvents.Secret);

    public RegistryDelivery Read(HttpRequest request, byte[] body)
    {
        string specVersion, id, source, type;
        string? time;
        JsonElement data;
        if (request.ContentType?.StartsWith("application/cloudevents+json", StringComparison.OrdinalIgnoreCase) == true)
        {
            var envelope = Json.Parse(body);
            (specVersion, id, source, type, time) = (envelope.RequiredString("specversion"), envelope.RequiredString("id"),
                envelope.RequiredString("source"), envelope.RequiredString("type"), envelope.OptionalString("time"));
            data = envelope.Child("data") ?? (envelope.OptionalString("data_base64") is { } b64 ? Json.Parse(Base64(b64)) : default);
        }
        else
        {
            string Header(string name) => request.Headers[name].ToString() is { Length: > 0 } v ? v : throw new MalformedPayloadException($"Header '{name}' is required.");
            (specVersion, id, source, type) = (Header("ce-specversion"), Header("ce-id"), Header("ce-source"), Header("ce-type"));
            time = request.Headers["ce-time"].ToString() is { Length: > 0 } t ? t : null;
            data = Json.Parse(body);
        }
        if (specVersion != "1.0") throw new MalformedPayloadException($"specversion '{specVersion}' is not supported (1.0 is).");
        var deliveryId = $"{source} {id}";
        var sentAt = time is null ? (DateTimeOffset?)null : Json.ParseTimestamp(time, "time");
        if (!options.Value.CloudEvents.PushTypes.Contains(type, StringComparer.Ordinal)) return new RegistryDelivery([], deliveryId, sentAt);
        if (data.ValueKind != JsonValueKind.Object) throw new MalformedPayloadException("The event has no JSON object data.");
        return new RegistryDelivery(ReadData(data), deliveryId, sentAt);
    }

    private IReadOnlyList<ImagePush> ReadData(JsonElement data)
    {
        if (data.Child("resources") is not null) return HarborReceiver.ReadEventData(data, options.Value.Harbor.Registry);
        if (data.Child("target") is not null) return AcrReceiver.ReadEvent(data).Pushes;
        return [new ImagePush(data.RequiredString("repository"), data.OptionalString("tag"), data.OptionalString("digest"))];
    }

    private static byte[] Base64(string text)
    {
        try { return Convert.FromBase64String(text); }
        catch (FormatException) { throw new MalformedPayloadException("'data_base64' is not base64."); }
    }
}
