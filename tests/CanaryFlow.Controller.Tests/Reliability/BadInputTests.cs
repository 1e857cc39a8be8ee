using System.Globalization;
using System.Net;
using System.Text;
using CanaryFlow.Controller.Triggers.Security;
using CanaryFlow.Controller.Tests.Triggers;
using Xunit.Abstractions;

namespace CanaryFlow.Controller.Tests.Reliability;

/// <summary>Issue 5, bad input: the whole controller fed thousands of generated bad requests on every endpoint.</summary>
[Collection(WebhookCounters.Name)]
public sealed class BadInputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 3000;

    // Fixed, so a failure replays exactly; CANARYFLOW_FUZZ_SEED explores other sequences.
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("CANARYFLOW_FUZZ_SEED"), out var s) ? s : 20261125;
    private WholeController _controller = null!;

    public async Task InitializeAsync() => _controller = await WholeController.StartAsync();

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    [Fact]
    public async Task Thousands_of_malformed_oversized_and_unsigned_requests_get_4xx_publish_nothing_and_leave_memory_flat()
    {
        // Warm up (JIT, pools) so the heap figure before is comparable with the one after.
        foreach (var warm in new MalformedRequests(seed: 1).Generate(200)) await SendAsync(warm);
        var heapBefore = HeapBytes();
        var publishedBefore = _controller.Published.Count;

        var statuses = new Dictionary<string, int>();
        var serverErrors = new List<string>();
        var resetsOnOversized = 0;
        // Lazily: the bodies (some over a megabyte) are garbage once sent, so the heap figure measures the controller.
        foreach (var batch in new MalformedRequests(Seed).Generate(Requests).Chunk(4))
        {
            var results = await Task.WhenAll(batch.Select(async r => (r, await SendAsync(r))));
            foreach (var (r, status) in results)
            {
                if (status is null) { resetsOnOversized += r.Oversized ? 1 : 0; if (!r.Oversized) serverErrors.Add($"{r.Endpoint} {r.Kind}: connection failed"); continue; }
                var key = $"{r.Endpoint} {(int)status}";
                statuses[key] = statuses.GetValueOrDefault(key) + 1;
                if ((int)status >= 500) serverErrors.Add($"{r.Endpoint} {r.Kind}: {(int)status}");
                // An oversized body must be refused (413, or an earlier refusal: unsigned, no such route, wrong method, bad name).
                if (r.Oversized && (int)status is < 400 or >= 500)
                    serverErrors.Add($"{r.Endpoint} {r.Kind}: oversized body answered {(int)status}");
            }
        }
        var heapAfter = HeapBytes();

        foreach (var (key, n) in statuses.OrderBy(p => p.Key, StringComparer.Ordinal)) output.WriteLine($"{key}: {n}");
        output.WriteLine($"{Requests} requests (seed {Seed}); oversized bodies cut off by the server before the client finished sending: {resetsOnOversized}");
        output.WriteLine($"GC heap after a full collection: before {heapBefore / 1024 / 1024.0:F1} MiB, after {heapAfter / 1024 / 1024.0:F1} MiB");
        foreach (var e in serverErrors) output.WriteLine("SERVER ERROR " + e);
        if (serverErrors.Count > 0) output.WriteLine(WholeController.Errors.All);
        Assert.Empty(serverErrors);
        Assert.Equal(publishedBefore, _controller.Published.Count);
        Assert.True(heapAfter < heapBefore + 64L * 1024 * 1024, $"GC heap grew from {heapBefore} to {heapAfter} bytes");

        // The control: a well-formed, signed command from an allowed user is published, so the counter above can see one.
        var text = "promote rel/checkout";
        var ok = await SendAsync(new BadRequest("/slack/commands", "valid", false, () => SignedSlashCommand(text)));
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal(publishedBefore + 1, _controller.Published.Count);
    }

    [Theory]
    [InlineData("dockerhub")]
    [InlineData("harbor")]
    [InlineData("github")]
    [InlineData("acr")]
    [InlineData("cloudevents")]
    public async Task A_signed_registry_payload_with_invalid_utf8_inside_its_strings_is_a_400_not_a_500(string registry)
    {
        // Found by the generator above: JsonDocument accepts such bytes and GetString() then throws
        // InvalidOperationException, which the endpoint did not turn into a 400.
        var request = MalformedRequests.SignedRegistryRequest(registry, MalformedRequests.WithInvalidUtf8InStrings(MalformedRequests.SampleOf(registry)));
        using var response = await _controller.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, _controller.Published.Count);
    }

    private async Task<HttpStatusCode?> SendAsync(BadRequest request)
    {
        try
        {
            using var message = request.Build();
            using var response = await _controller.Http.SendAsync(message);
            return response.StatusCode;
        }
        catch (HttpRequestException) { return null; } // the server answered 413 and closed while the client still sent
    }

    private static HttpRequestMessage SignedSlashCommand(string text)
    {
        var body = $"command=%2Fcanary&user_id={WholeController.SlackUser}&user_name=ops&text={Uri.EscapeDataString(text)}";
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, "/slack/commands") { Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
        request.Headers.Add("X-Slack-Signature", "v0=" + SecretComparer.HmacSha256Hex(WholeController.SlackSecret, Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));
        return request;
    }

    private static long HeapBytes()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
