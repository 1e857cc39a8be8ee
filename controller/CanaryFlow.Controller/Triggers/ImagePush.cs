namespace CanaryFlow.Controller.Triggers;

/// <summary>One pushed image as a registry reported it, normalised across publishers.</summary>
/// <param name="Repository">Full repository including the registry host, e.g. "ghcr.io/acme/checkout".</param>
/// <param name="Tag">The pushed tag, or null when the publisher sent only a digest.</param>
/// <param name="Digest">"sha256:..." where the publisher sent one.</param>
public sealed record ImagePush(string Repository, string? Tag, string? Digest);

/// <summary>
/// What a registry receiver read from one request: the pushes, plus what it offers against
/// replays (a delivery id and/or the time the publisher says it sent the event).
/// </summary>
public sealed record RegistryDelivery(IReadOnlyList<ImagePush> Pushes, string? DeliveryId, DateTimeOffset? SentAt)
{
    public static RegistryDelivery Ignored(string? deliveryId = null) => new([], deliveryId, null);
}

/// <summary>The payload is not what the publisher documents (400).</summary>
public sealed class MalformedPayloadException(string message) : Exception(message);
