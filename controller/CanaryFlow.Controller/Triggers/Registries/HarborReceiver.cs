using System.Text.Json;
using CanaryFlow.Controller.Triggers.Matching;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// Harbor webhook policies (HTTP, default payload format): Harbor sends the policy's "Auth Header"
/// verbatim as the Authorization header. Only <c>PUSH_ARTIFACT</c> starts anything; the other event
/// types (pull, delete, scan, ...) are acknowledged and ignored.
/// </summary>
public sealed class HarborReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "harbor";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.SecretsEqual(request.Headers.Authorization.ToString(), options.Value.Harbor.Secret);

    public RegistryDelivery Read(HttpRequest request, byte[] body)
    {
        var root = Json.Parse(body);
        var type = root.RequiredString("type");
        var sentAt = root.OptionalUnixSeconds("occur_at");
        if (type != "PUSH_ARTIFACT") return RegistryDelivery.Ignored();
        return new RegistryDelivery(ReadEventData(root.RequiredObject("event_data"), options.Value.Harbor.Registry), null, sentAt);
    }

    /// <summary>Reads Harbor's event data (also the "data" of Harbor's CloudEvents format).</summary>
    internal static IReadOnlyList<ImagePush> ReadEventData(JsonElement data, string? registryHost)
    {
        if (data.Child("resources") is not { ValueKind: JsonValueKind.Array } resources)
            throw new MalformedPayloadException("'event_data.resources' must be an array.");
        var pushes = new List<ImagePush>();
        foreach (var resource in resources.EnumerateArray())
        {
            var url = resource.OptionalString("resource_url");
            var tag = resource.OptionalString("tag");
            var digest = resource.OptionalString("digest");
            string repository;
            if (url is { Length: > 0 })
            {
                repository = ImageReferences.Split(url).Repository;
            }
            else
            {
                // Harbor before 2.x sent no resource_url: the project/repository name plus the configured host.
                var fullName = data.RequiredObject("repository").RequiredString("repo_full_name");
                repository = string.IsNullOrEmpty(registryHost) ? throw new MalformedPayloadException("'resource_url' is required (or configure Triggers:Harbor:Registry).") : $"{registryHost}/{fullName}";
            }
            pushes.Add(new ImagePush(repository, string.IsNullOrEmpty(tag) ? null : tag, string.IsNullOrEmpty(digest) ? null : digest));
        }
        return pushes;
    }
}
