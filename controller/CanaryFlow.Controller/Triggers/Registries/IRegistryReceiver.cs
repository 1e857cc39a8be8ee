using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>One registry's webhook dialect: how it authenticates and what its payload says.</summary>
public interface IRegistryReceiver
{
    /// <summary>Route below the webhook prefix, e.g. "harbor" or "dockerhub/{token}".</summary>
    string Route { get; }

    /// <summary>Checks the publisher's proof (signature, shared secret) before the body is even parsed.</summary>
    bool IsAuthentic(HttpRequest request, byte[] body);

    /// <exception cref="MalformedPayloadException">The body is not the documented payload.</exception>
    /// <exception cref="System.Text.Json.JsonException">The body is not JSON.</exception>
    RegistryDelivery Read(HttpRequest request, byte[] body);
}
