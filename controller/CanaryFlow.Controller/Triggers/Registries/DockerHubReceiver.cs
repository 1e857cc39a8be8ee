using CanaryFlow.Controller.Triggers.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>
/// Docker Hub repository webhooks (docs.docker.com/docker-hub/repos/manage/webhooks): no signature and
/// no custom headers, so the secret is the last segment of the URL. The payload names the repository
/// ("repository.repo_name") and tag ("push_data.tag") but no digest.
/// </summary>
public sealed class DockerHubReceiver(IOptions<RegistryWebhookOptions> options) : IRegistryReceiver
{
    public string Route => "dockerhub/{token}";

    public bool IsAuthentic(HttpRequest request, byte[] body) =>
        SecretComparer.SecretsEqual(request.RouteValues["token"] as string, options.Value.DockerHub.Secret);

    public RegistryDelivery Read(HttpRequest request, byte[] body)
    {
        var root = Json.Parse(body);
        var push = root.RequiredObject("push_data");
        var repository = root.RequiredObject("repository").RequiredString("repo_name");
        var tag = push.RequiredString("tag");
        return new RegistryDelivery([new ImagePush(repository, tag, null)], null, push.OptionalUnixSeconds("pushed_at"));
    }
}
