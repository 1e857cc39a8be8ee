using System.Text.Json;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// Azure Container Registry webhooks (learn.microsoft.com, "Azure Container Registry webhook
/// reference"): ACR adds only the custom headers configured on the webhook, so one of them carries
/// the shared secret. The event has an id and a timestamp (replay protection); only "push" counts.
/// </summary>
public sealed class AcrReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "acr";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.SecretsEqual(request.Headers[options.Value.Acr.HeaderName].ToString(), options.Value.Acr.Secret);

    public RegistryDelivery Read(HttpRequest request, byte[] body) => ReadEvent(Json.Parse(body));

    /// <summary>Reads an ACR event (also the "data" of Event Grid's Microsoft.ContainerRegistry.ImagePushed).</summary>
    internal static RegistryDelivery ReadEvent(JsonElement root)
    {
        var id = root.OptionalString("id");
        var sentAt = root.OptionalTimestamp("timestamp");
        if (root.RequiredString("action") != "push") return RegistryDelivery.Ignored(id);
        var target = root.RequiredObject("target");
        var host = root.RequiredObject("request").RequiredString("host");
        var push = new ImagePush($"{host}/{target.RequiredString("repository")}", target.OptionalString("tag") is { Length: > 0 } t ? t : null,
            target.OptionalString("digest") is { Length: > 0 } d ? d : null);
        return new RegistryDelivery([push], id, sentAt);
    }
}
