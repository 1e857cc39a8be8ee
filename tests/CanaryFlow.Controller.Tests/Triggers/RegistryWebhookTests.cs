using System.Net;
using System.Text;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Tests.ChatOps;
using CanaryFlow.Controller.Triggers;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Triggers;

[Collection(WebhookCounters.Name)]
public sealed class RegistryWebhookTests : IAsyncLifetime
{
    private const string DockerHubToken = "dh-token-0123456789abcdef";
    private const string HarborSecret = "harbor-auth-header-value-01";
    private const string GitHubSecret = "github-webhook-secret-0123";
    private const string AcrSecret = "acr-custom-header-secret-01";
    private const string CloudEventsSecret = "cloudevents-secret-01234567";

    private static readonly RolloutTarget Testhook = new("shop", "testhook");
    private static readonly RolloutTarget Rumput = new("shop", "rumput");
    private static readonly RolloutTarget Hello = new("shop", "hello");
    private static readonly RolloutTarget AcrHello = new("shop", "acr-hello");

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingImageUpdater _updater = new();
    private LocalWebApp _app = null!;

    public async Task InitializeAsync()
    {
        var targets = new FixedTrackedTargets(
            new TrackedTarget(Testhook, "app", "svendowideit/testhook", new TagPolicy("exact", "latest")),
            new TrackedTarget(Rumput, "app", "hb.nicolas.my.id/library/rumput", new TagPolicy("regex", @"v\d+")),
            new TrackedTarget(Hello, "web", "ghcr.io/octo-org/hello-world", new TagPolicy("semver", ">=1.2.0 <2.0.0")),
            new TrackedTarget(AcrHello, "app", "myregistry.azurecr.io/hello-world", new TagPolicy("exact", "v1")));
        _app = await LocalWebApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["Triggers:DockerHub:Secret"] = DockerHubToken,
                ["Triggers:Harbor:Secret"] = HarborSecret,
                ["Triggers:GitHub:Secret"] = GitHubSecret,
                ["Triggers:Acr:HeaderName"] = "X-Acr-Secret",
                ["Triggers:Acr:Secret"] = AcrSecret,
                ["Triggers:CloudEvents:Secret"] = CloudEventsSecret,
                ["Triggers:MaxBodyBytes"] = "65536",
            },
            (services, configuration) => services.AddSingleton<TimeProvider>(_time).AddSingleton<ITrackedTargets>(targets)
                .AddSingleton<IImageUpdater>(_updater).AddCanaryFlowTriggers(configuration),
            app => app.MapRegistryWebhooks());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private async Task<HttpResponseMessage> PostAsync(string path, string body, Action<HttpRequestMessage>? headers = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/registry/" + path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        headers?.Invoke(request);
        return await _app.Client.SendAsync(request);
    }

    private static Action<HttpRequestMessage> GitHubHeaders(string signedBody, string deliveryId, string secret = GitHubSecret) => r =>
    {
        r.Headers.Add("X-GitHub-Event", "package");
        r.Headers.Add("X-GitHub-Delivery", deliveryId);
        r.Headers.Add("X-Hub-Signature-256", "sha256=" + SecretComparer.HmacSha256Hex(secret, Encoding.UTF8.GetBytes(signedBody)));
    };

    [Fact]
    public async Task Docker_Hub_example_with_the_token_in_the_path_sets_the_tag_on_the_tracking_target()
    {
        _time.SetUtcNow(ExamplePayloads.DockerHubSentAt);
        var response = await PostAsync("dockerhub/" + DockerHubToken, ExamplePayloads.DockerHub);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal((Testhook, "app", "svendowideit/testhook:latest"), Assert.Single(_updater.Changes));
    }

    [Fact]
    public async Task Docker_Hub_with_a_wrong_token_is_refused_and_changes_nothing()
    {
        _time.SetUtcNow(ExamplePayloads.DockerHubSentAt);
        var response = await PostAsync("dockerhub/" + DockerHubToken + "x", ExamplePayloads.DockerHub);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task Harbor_push_with_the_auth_header_sets_the_image_by_digest()
    {
        _time.SetUtcNow(ExamplePayloads.HarborSentAt.AddSeconds(3));
        var response = await PostAsync("harbor", ExamplePayloads.Harbor, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal((Rumput, "app", "hb.nicolas.my.id/library/rumput:v1@" + ExamplePayloads.HarborDigest), Assert.Single(_updater.Changes));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("harbor-auth-header-value-02")]
    public async Task Harbor_push_with_a_missing_or_wrong_auth_header_is_refused_and_counted(string? header)
    {
        _time.SetUtcNow(ExamplePayloads.HarborSentAt);
        var refusedBefore = TriggerMetrics.Requests.WithLabels("harbor", "unauthorized").Value;
        var response = await PostAsync("harbor", ExamplePayloads.Harbor, r => { if (header is not null) r.Headers.TryAddWithoutValidation("Authorization", header); });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_updater.Changes);
        Assert.Equal(refusedBefore + 1, TriggerMetrics.Requests.WithLabels("harbor", "unauthorized").Value);
    }

    [Fact]
    public async Task Harbor_push_replayed_after_the_window_is_refused()
    {
        _time.SetUtcNow(ExamplePayloads.HarborSentAt.AddMinutes(6));
        var response = await PostAsync("harbor", ExamplePayloads.Harbor, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Theory]
    [InlineData("{\"type\": \"PUSH_ARTIFACT\", \"event_data\": {\"resources\": \"v1\"}}")]
    [InlineData("{\"type\": \"PUSH_ARTIFACT\"")]
    [InlineData("[1, 2]")]
    public async Task Harbor_malformed_body_with_valid_auth_is_a_bad_request(string body)
    {
        var response = await PostAsync("harbor", body, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task GitHub_package_event_with_a_valid_signature_sets_the_image_when_the_version_is_in_the_semver_range()
    {
        var response = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal((Hello, "web", "ghcr.io/octo-org/hello-world:1.4.2@" + ExamplePayloads.GitHubDigest), Assert.Single(_updater.Changes));
    }

    [Fact]
    public async Task GitHub_package_event_with_a_tampered_body_is_refused()
    {
        var tampered = ExamplePayloads.GitHubPackage.Replace("1.4.2", "1.9.9");
        var response = await PostAsync("github", tampered, GitHubHeaders(ExamplePayloads.GitHubPackage, "d1"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task GitHub_package_event_signed_with_another_secret_or_unsigned_is_refused()
    {
        var wrong = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "d2", "another-secret-0123456789"));
        var unsigned = await PostAsync("github", ExamplePayloads.GitHubPackage, r => r.Headers.Add("X-GitHub-Event", "package"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task GitHub_delivery_replayed_with_the_same_delivery_id_changes_nothing_more()
    {
        var first = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "same-delivery"));
        var again = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "same-delivery"));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Contains("duplicate", await again.Content.ReadAsStringAsync());
        Assert.Single(_updater.Changes);
    }

    [Fact]
    public async Task A_delivery_that_could_not_be_applied_is_503_and_accepted_again_when_the_registry_retries()
    {
        _updater.FailNext = true;
        var failed = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "retried-delivery"));
        var retried = await PostAsync("github", ExamplePayloads.GitHubPackage, GitHubHeaders(ExamplePayloads.GitHubPackage, "retried-delivery"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Equal(Hello, Assert.Single(_updater.Changes).Target);
    }

    [Fact]
    public async Task GitHub_signed_but_malformed_body_is_a_bad_request()
    {
        const string body = "{\"action\": \"published\", \"package\": 42}";
        var response = await PostAsync("github", body, GitHubHeaders(body, "d3"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task GitHub_ping_and_other_events_are_acknowledged_with_nothing_done()
    {
        const string ping = "{\"zen\": \"Design for failure.\", \"hook_id\": 42}";
        var response = await PostAsync("github", ping, r =>
        {
            GitHubHeaders(ping, "d5")(r);
            r.Headers.Remove("X-GitHub-Event");
            r.Headers.Add("X-GitHub-Event", "ping");
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task GitHub_version_outside_the_semver_range_is_accepted_with_nothing_done()
    {
        var body = ExamplePayloads.GitHubPackage.Replace("1.4.2", "2.0.0");
        var response = await PostAsync("github", body, GitHubHeaders(body, "d4"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task Acr_push_with_the_custom_header_secret_sets_the_image_and_a_replay_of_its_id_does_nothing()
    {
        _time.SetUtcNow(ExamplePayloads.AcrSentAt.AddSeconds(1));
        var first = await PostAsync("acr", ExamplePayloads.Acr, r => r.Headers.Add("X-Acr-Secret", AcrSecret));
        var replay = await PostAsync("acr", ExamplePayloads.Acr, r => r.Headers.Add("X-Acr-Secret", AcrSecret));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        Assert.Equal((AcrHello, "app", "myregistry.azurecr.io/hello-world:v1@" + ExamplePayloads.AcrDigest), Assert.Single(_updater.Changes));
    }

    [Fact]
    public async Task Acr_push_without_the_header_or_outside_the_window_is_refused()
    {
        _time.SetUtcNow(ExamplePayloads.AcrSentAt);
        var missing = await PostAsync("acr", ExamplePayloads.Acr);
        _time.SetUtcNow(ExamplePayloads.AcrSentAt.AddHours(1));
        var stale = await PostAsync("acr", ExamplePayloads.Acr, r => r.Headers.Add("X-Acr-Secret", AcrSecret));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task CloudEvent_in_structured_mode_from_Harbor_sets_the_image()
    {
        _time.SetUtcNow(ExamplePayloads.HarborCloudEventSentAt);
        var response = await PostAsync("cloudevents", ExamplePayloads.HarborCloudEvent,
            r => r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret), "application/cloudevents+json");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(Rumput, Assert.Single(_updater.Changes).Target);
    }

    [Fact]
    public async Task CloudEvent_in_binary_mode_with_an_ACR_event_as_data_sets_the_image()
    {
        _time.SetUtcNow(ExamplePayloads.AcrSentAt);
        var response = await PostAsync("cloudevents", ExamplePayloads.Acr, r =>
        {
            r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret);
            r.Headers.Add("ce-specversion", "1.0");
            r.Headers.Add("ce-id", "831e1650-001e-001b-66ab-eeb76e069631");
            r.Headers.Add("ce-source", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry");
            r.Headers.Add("ce-type", "Microsoft.ContainerRegistry.ImagePushed");
            r.Headers.Add("ce-time", "2017-11-17T16:52:01.343145347Z");
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(AcrHello, Assert.Single(_updater.Changes).Target);
    }

    [Fact]
    public async Task CloudEvent_without_the_secret_is_refused_and_one_without_specversion_is_malformed()
    {
        _time.SetUtcNow(ExamplePayloads.HarborCloudEventSentAt);
        var unsigned = await PostAsync("cloudevents", ExamplePayloads.HarborCloudEvent, null, "application/cloudevents+json");
        var malformed = await PostAsync("cloudevents", ExamplePayloads.HarborCloudEvent.Replace("\"specversion\": \"1.0\",", ""),
            r => r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret), "application/cloudevents+json");
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    // A second event for the batch tests: CanaryFlow's own plain data, sent base64-encoded.
    private static string PlainPushEvent(string id, string tag)
    {
        var data = Convert.ToBase64String(Encoding.UTF8.GetBytes($$"""{"repository": "ghcr.io/octo-org/hello-world", "tag": "{{tag}}"}"""));
        return $$"""
            {"specversion": "1.0", "id": "{{id}}", "source": "/ci/pipeline", "type": "dev.canaryflow.image.pushed",
             "time": "2023-03-06T06:08:40Z", "datacontenttype": "application/json", "data_base64": "{{data}}"}
            """;
    }

    [Fact]
    public async Task CloudEvents_batch_sets_the_image_of_each_event_and_the_same_batch_again_is_a_duplicate()
    {
        _time.SetUtcNow(ExamplePayloads.HarborCloudEventSentAt);
        var batch = $"[{ExamplePayloads.HarborCloudEvent}, {PlainPushEvent("p-1", "1.5.0")}]";
        Action<HttpRequestMessage> secret = r => r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret);
        var first = await PostAsync("cloudevents", batch, secret, "application/cloudevents-batch+json");
        var again = await PostAsync("cloudevents", batch, secret, "application/cloudevents-batch+json");
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Contains("duplicate", await again.Content.ReadAsStringAsync());
        Assert.Equal(2, _updater.Changes.Count);
        Assert.Equal(new HashSet<RolloutTarget> { Rumput, Hello }, _updater.Changes.Select(c => c.Target).ToHashSet());
        Assert.Contains(_updater.Changes, c => c.Image == "ghcr.io/octo-org/hello-world:1.5.0");
    }

    [Fact]
    public async Task CloudEvents_batch_with_one_invalid_event_is_malformed_and_changes_nothing()
    {
        _time.SetUtcNow(ExamplePayloads.HarborCloudEventSentAt);
        var withoutId = PlainPushEvent("p-2", "1.5.0").Replace("\"id\": \"p-2\", ", "");
        var response = await PostAsync("cloudevents", $"[{ExamplePayloads.HarborCloudEvent}, {withoutId}]",
            r => r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret), "application/cloudevents-batch+json");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task CloudEvent_in_binary_mode_with_an_unsupported_specversion_is_malformed()
    {
        _time.SetUtcNow(ExamplePayloads.AcrSentAt);
        var response = await PostAsync("cloudevents", ExamplePayloads.Acr, r =>
        {
            r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret);
            foreach (var (name, value) in new[] { ("ce-specversion", "0.3"), ("ce-id", "1"), ("ce-source", "/x"), ("ce-type", "Microsoft.ContainerRegistry.ImagePushed") })
                r.Headers.Add(name, value);
        });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task A_pushed_image_no_canary_tracks_is_accepted_with_nothing_done()
    {
        _time.SetUtcNow(ExamplePayloads.HarborSentAt);
        var body = ExamplePayloads.Harbor.Replace("library/rumput", "library/other");
        var response = await PostAsync("harbor", body, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Contains("no tracked target", await response.Content.ReadAsStringAsync());
        Assert.Empty(_updater.Changes);
    }

    [Fact]
    public async Task The_same_digest_announced_twice_by_different_routes_changes_the_image_once()
    {
        _time.SetUtcNow(ExamplePayloads.HarborSentAt);
        var harbor = await PostAsync("harbor", ExamplePayloads.Harbor, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        var cloudEvent = ExamplePayloads.HarborCloudEvent
            .Replace("2023-03-06T06:08:43Z", ExamplePayloads.HarborSentAt.ToString("yyyy-MM-ddTHH:mm:ssZ"))
            .Replace("sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4", ExamplePayloads.HarborDigest)
            .Replace(":v2", ":v1").Replace("\"v2\"", "\"v1\"");
        var twin = await PostAsync("cloudevents", cloudEvent, r => r.Headers.Add("X-CanaryFlow-Secret", CloudEventsSecret), "application/cloudevents+json");
        Assert.Equal(HttpStatusCode.Accepted, harbor.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, twin.StatusCode);
        Assert.Single(_updater.Changes);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused_before_anything_else()
    {
        var huge = "{\"pad\": \"" + new string('a', 70_000) + "\"}";
        var response = await PostAsync("harbor", huge, r => r.Headers.TryAddWithoutValidation("Authorization", HarborSecret));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
