using System.Net.Mime;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Core;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// Reads the CloudEvents in an ASP.NET Core request with the CloudEvents SDK, in all three HTTP modes:
/// structured (application/cloudevents+json), batch (application/cloudevents-batch+json) and binary
/// (ce-* headers, the body is the data). The SDK's own ASP.NET Core adapter is not served here, so this
/// is the few lines of it that we need, over a body that is already read and size-checked.
/// </summary>
internal static class CloudEventsHttp
{
    private static readonly JsonEventFormatter Formatter = new();

    /// <exception cref="MalformedPayloadException">Not a valid CloudEvent (or batch) in any mode.</exception>
    public static IReadOnlyList<CloudEvent> Read(HttpRequest request, byte[] body)
    {
        try
        {
            if (MimeUtilities.IsCloudEventsBatchContentType(request.ContentType))
                return Formatter.DecodeBatchModeMessage(body, new ContentType(request.ContentType!), null);
            if (request.ContentType?.StartsWith(MimeUtilities.MediaType, StringComparison.OrdinalIgnoreCase) == true)
                return [Formatter.DecodeStructuredModeMessage(body, new ContentType(request.ContentType), null)];
            return [ReadBinaryMode(request, body)];
        }
        // The SDK reports a missing or invalid attribute as ArgumentException; the parsers below it throw the rest.
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException or NotSupportedException)
        {
            throw new MalformedPayloadException(e.Message);
        }
    }

    private static CloudEvent ReadBinaryMode(HttpRequest request, byte[] body)
    {
        var specVersion = request.Headers[HttpUtilities.SpecVersionHttpHeader].ToString();
        if (specVersion.Length == 0) throw new MalformedPayloadException($"Header '{HttpUtilities.SpecVersionHttpHeader}' is required.");
        var version = CloudEventsSpecVersion.FromVersionId(specVersion)
            ?? throw new MalformedPayloadException($"specversion '{specVersion}' is not supported (1.0 is).");
        var cloudEvent = new CloudEvent(version);
        foreach (var (name, values) in request.Headers)
        {
            if (HttpUtilities.GetAttributeNameFromHeaderName(name) is not { } attribute || attribute == CloudEventsSpecVersion.SpecVersionAttribute.Name) continue;
            cloudEvent.SetAttributeFromString(attribute, HttpUtilities.DecodeHeaderValue(values.ToString()));
        }
        cloudEvent.DataContentType = request.ContentType;
        Formatter.DecodeBinaryModeEventData(body, cloudEvent);
        return Validation.CheckCloudEventArgument(cloudEvent, nameof(request));
    }
}
