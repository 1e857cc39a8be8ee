using System.Text.Json;
using CanaryFlow.Controller.Triggers.Matching;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// GitHub Container Registry, through GitHub's <c>package</c> and <c>registry_package</c> webhook events
/// (action "published", package_type "CONTAINER"). Signed: X-Hub-Signature-256 is "sha256=" + the hex
/// HMAC-SHA256 of the raw body. X-GitHub-Delivery identifies a delivery (a redelivery repeats it).
/// </summary>
public sealed class GitHubPackagesReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "github";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.HmacSha256HexMatches(request.Headers["X-Hub-Signature-256"].ToString(), "sha256=", options.Value.GitHub.Secret, body);

    public RegistryDelivery Read(HttpRequest request, byte[] body)
    {
        var deliveryId = request.Headers["X-GitHub-Delivery"].ToString();
        var eventName = request.Headers["X-GitHub-Event"].ToString();
        var root = Json.Parse(body);
        if (eventName is not ("package" or "registry_package")) return RegistryDelivery.Ignored(NullIfEmpty(deliveryId));
        var package = root.RequiredObject(eventName);
        var kind = package.OptionalString("package_type") ?? package.OptionalString("ecosystem");
        if (root.RequiredString("action") != "published" || !string.Equals(kind, "CONTAINER", StringComparison.OrdinalIgnoreCase))
            return RegistryDelivery.Ignored(NullIfEmpty(deliveryId));

        var version = package.RequiredObject("package_version");
        var tagInfo = version.Child("container_metadata")?.Child("tag");
        var tag = tagInfo?.OptionalString("name");
        var digest = tagInfo?.OptionalString("digest") ?? (ImageReferences.IsDigest(version.OptionalString("version")) ? version.OptionalString("version") : null);
        var repository = version.OptionalString("package_url") is { Length: > 0 } url
            ? ImageReferences.Split(url).Repository
            : $"ghcr.io/{package.RequiredString("namespace")}/{Uri.UnescapeDataString(package.RequiredString("name"))}";
        var push = new ImagePush(repository, string.IsNullOrEmpty(tag) ? null : tag, string.IsNullOrEmpty(digest) ? null : digest);
        return new RegistryDelivery([push], NullIfEmpty(deliveryId), null);
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
