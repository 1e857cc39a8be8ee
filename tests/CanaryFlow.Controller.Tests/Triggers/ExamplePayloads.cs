namespace CanaryFlow.Controller.Tests.Triggers;

/// <summary>
/// The example payloads each publisher documents, as they document them (long free-text fields
/// shortened). Sources: Docker Hub "Webhooks" page; Harbor webhook PUSH_ARTIFACT (default format)
/// and its CloudEvents format; GitHub webhook "package" event (container); Azure "Container Registry
/// webhook reference" push event (its digest un-redacted to a real one).
/// </summary>
public static class ExamplePayloads
{
    /// <summary>Sent at 2014-12-03T00:22:41Z (push_data.pushed_at).</summary>
    public static readonly DateTimeOffset DockerHubSentAt = DateTimeOffset.FromUnixTimeSeconds(1417566161);

    public const string DockerHub = """
        {
          "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
          "push_data": {
            "pushed_at": 1417566161,
            "pusher": "trustedbuilder",
            "tag": "latest"
          },
          "repository": {
            "comment_count": 0,
            "date_created": 1417494799,
            "description": "",
            "dockerfile": "#\n# BUILD\t\tdocker build -t svendowideit/apt-cacher .\n",
            "full_description": "Docker Hub based automated build from a GitHub repo",
            "is_official": false,
            "is_private": true,
            "is_trusted": true,
            "name": "testhook",
            "namespace": "svendowideit",
            "owner": "svendowideit",
            "repo_name": "svendowideit/testhook",
            "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/",
            "star_count": 0,
            "status": "Active"
          }
        }
        """;

    public static readonly DateTimeOffset HarborSentAt = DateTimeOffset.FromUnixTimeSeconds(1737446601);

    public const string Harbor = """
        {
          "type": "PUSH_ARTIFACT",
          "occur_at": 1737446601,
          "operator": "admin",
          "event_data": {
            "resources": [
              {
                "digest": "sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0",
                "tag": "v1",
                "resource_url": "hb.nicolas.my.id/library/rumput:v1"
              }
            ],
            "repository": {
              "date_created": 1737446600,
              "name": "rumput",
              "namespace": "library",
              "repo_full_name": "library/rumput",
              "repo_type": "public"
            }
          }
        }
        """;

    public const string HarborDigest = "sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0";

    /// <summary>GitHub "package" event, action published, for a container pushed to ghcr.io (X-GitHub-Event: package).</summary>
    public const string GitHubPackage = """
        {
          "action": "published",
          "package": {
            "id": 1234567,
            "name": "hello-world",
            "namespace": "octo-org",
            "description": "",
            "ecosystem": "CONTAINER",
            "package_type": "CONTAINER",
            "html_url": "https://github.com/orgs/octo-org/packages/container/package/hello-world",
            "created_at": "2023-05-10T08:01:02Z",
            "updated_at": "2023-05-10T08:01:02Z",
            "owner": { "login": "octo-org", "id": 6811672, "type": "Organization", "site_admin": false },
            "package_version": {
              "id": 98765432,
              "version": "sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091",
              "name": "sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091",
              "description": "",
              "summary": "",
              "html_url": "https://github.com/orgs/octo-org/packages/container/hello-world/98765432",
              "created_at": "2023-05-10T08:01:02Z",
              "updated_at": "2023-05-10T08:01:02Z",
              "metadata": [],
              "container_metadata": {
                "tag": { "name": "1.4.2", "digest": "sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091" },
                "labels": { "description": "", "source": "https://github.com/octo-org/hello-world", "revision": "4f2d1a9", "image_url": "https://github.com/octo-org/hello-world", "licenses": "" },
                "manifest": { "digest": "sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091", "media_type": "application/vnd.oci.image.index.v1+json", "uri": "repositories/octo-org/hello-world/manifests/sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091", "size": 1604, "config": { "digest": "", "media_type": "", "size": 0 }, "layers": [] }
              },
              "package_files": [],
              "installation_command": "docker pull ghcr.io/octo-org/hello-world:1.4.2",
              "package_url": "ghcr.io/octo-org/hello-world:1.4.2"
            },
            "registry": { "about_url": "https://docs.github.com/packages/learn-github-packages/introduction-to-github-packages", "name": "GitHub CONTAINER registry", "type": "CONTAINER", "url": "https://ghcr.io/octo-org", "vendor": "GitHub Inc" }
          },
          "repository": { "id": 123, "name": "hello-world", "full_name": "octo-org/hello-world", "private": false },
          "organization": { "login": "octo-org", "id": 6811672 },
          "sender": { "login": "octocat", "id": 1, "type": "User", "site_admin": false }
        }
        """;

    public const string GitHubDigest = "sha256:1e3f1a2b6e9c3f2d4a0b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091";

    public static readonly DateTimeOffset AcrSentAt = DateTimeOffset.Parse("2017-11-17T16:52:01.343Z");

    public const string Acr = """
        {
          "id": "cb8c3971-9adc-488b-bdd8-43cbb4974ff5",
          "timestamp": "2017-11-17T16:52:01.343145347Z",
          "action": "push",
          "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 524,
            "digest": "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",
            "length": 524,
            "repository": "hello-world",
            "tag": "v1"
          },
          "request": {
            "id": "3cbb6949-7549-4fa1-86cd-a6d5451dffc7",
            "host": "myregistry.azurecr.io",
            "method": "PUT",
            "useragent": "docker/17.09.0-ce go/go1.8.3 git-commit/afdb6d4 kernel/4.10.0-27-generic os/Linux arch/amd64 UpstreamClient(Docker-Client/17.09.0-ce \\(linux\\))"
          }
        }
        """;

    public const string AcrDigest = "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d";

    public static readonly DateTimeOffset HarborCloudEventSentAt = DateTimeOffset.Parse("2023-03-06T06:08:43Z");

    /// <summary>Harbor's CloudEvents payload format (structured mode) for an artifact push.</summary>
    public const string HarborCloudEvent = """
        {
          "specversion": "1.0",
          "requestid": "2eedfab8-61d3-4f3c-8ec3-8f82d1ec4c84",
          "id": "4b2f89a6-548d-4c12-9993-a1f5790b97d2",
          "source": "/projects/1/webhook/policies/3",
          "type": "harbor.artifact.pushed",
          "datacontenttype": "application/json",
          "time": "2023-03-06T06:08:43Z",
          "data": {
            "resources": [
              {
                "digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
                "tag": "v2",
                "resource_url": "hb.nicolas.my.id/library/rumput:v2"
              }
            ],
            "repository": { "date_created": 1677053165, "name": "rumput", "namespace": "library", "repo_full_name": "library/rumput", "repo_type": "public" },
            "operator": "admin"
          }
        }
        """;
}
