using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CanaryFlow.Controller.Triggers.Security;
using CloudNative.CloudEvents;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// CloudEvents 1.0 over HTTP in structured, binary or batch mode (decoded by the CloudEvents SDK, see
/// <see cref="CloudEventsHttp"/>). The data may be Harbor's event data, an ACR event, or a plain
/// {"repository", "tag", "digest"} object. Source + id identify an event.
/// </summary>
public sealed class CloudEventsReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "cloudevents";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.SecretsEqual(request.Headers[options.Value.CloudEvents.HeaderName].ToString(), options.Value.CloudEvents.Secret);

    public RegistryDelivery Read(HttpRequest request, byte[] body)
    {
        // Checked whole, once: JSON parsers check structure, but a string's bytes are decoded only when read.
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new MalformedPayloadException("The body is not valid UTF-8.");
        var events = CloudEventsHttp.Read(request, body);
        if (events.Count == 0) return RegistryDelivery.Ignored();
        var pushes = new List<ImagePush>();
        foreach (var cloudEvent in events)
        {
            if (!options.Value.CloudEvents.PushTypes.Contains(cloudEvent.Type!, StringComparer.Ordinal)) continue;
            pushes.AddRange(ReadData(DataObject(cloudEvent)));
        }
        // A batch is one delivery: its oldest event decides the replay window, all its ids the replay key.
        var sentAt = events.Select(e => e.Time).Where(t => t is not null).Min();
        return new RegistryDelivery(pushes, DeliveryId(events), sentAt);
    }

    private static string DeliveryId(IReadOnlyList<CloudEvent> events)
    {
        if (events.Count == 1) return $"{events[0].Source} {events[0].Id}";
        var ids = string.Join('\n', events.Select(e => $"{e.Source} {e.Id}").Order(StringComparer.Ordinal));
        return "batch " + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ids)));
    }

    // The SDK gives JSON data as a JsonElement, data_base64 and non-JSON content types as bytes or text.
    private static JsonElement DataObject(CloudEvent cloudEvent) => cloudEvent.Data switch
    {
        JsonElement { ValueKind: JsonValueKind.Object } e => e,
        byte[] bytes => Json.Parse(bytes),
        string text => Json.Parse(Encoding.UTF8.GetBytes(text)),
        _ => throw new MalformedPayloadException("The event has no JSON object data."),
    };

    private IReadOnlyList<ImagePush> ReadData(JsonElement data)
    {
        if (data.Child("resources") is not null) return HarborReceiver.ReadEventData(data, options.Value.Harbor.Registry);
        if (data.Child("target") is not null) return AcrReceiver.ReadEvent(data).Pushes;
        return [new ImagePush(data.RequiredString("repository"), data.OptionalString("tag"), data.OptionalString("digest"))];
    }
}
