using System.Text.Json;
using System.Text.RegularExpressions;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;

namespace CanaryFlow.Controller.Web;

/// <summary>
/// The status page at <c>/</c> (one embedded HTML file, inline JS and SVG, nothing from a CDN), its
/// live stream of changes (Server-Sent Events), each rollout's timeline as JSON, and its report as PNG and SVG.
/// </summary>
public static partial class StatusPage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static IEndpointRouteBuilder MapStatusPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Text(Html.Value, "text/html; charset=utf-8"));
        app.MapGet("/api/rollouts/events", StreamAsync);
        app.MapGet("/api/rollouts/{ns}/{name}/timeline", (string ns, string name, RolloutHistory history) =>
            Find(ns, name, history, out var timeline) is { } error ? error : Results.Ok(timeline));
        app.MapGet("/api/rollouts/{ns}/{name}/report.png", (string ns, string name, RolloutHistory history) =>
            Find(ns, name, history, out var timeline) is { } error ? error : Results.Bytes(RolloutReport.Png(timeline!), "image/png"));
        app.MapGet("/api/rollouts/{ns}/{name}/report.svg", (string ns, string name, RolloutHistory history) =>
            Find(ns, name, history, out var timeline) is { } error ? error : Results.Text(RolloutReport.Svg(timeline!), "image/svg+xml; charset=utf-8"));
        return app;
    }

    /// <summary>Checks the route values (Kubernetes names) and finds the rollout's timeline; an error result when not.</summary>
    internal static IResult? Find(string ns, string name, RolloutHistory history, out RolloutTimeline? timeline)
    {
        timeline = null;
        if (!IsDnsLabel(ns) || !IsDnsSubdomain(name))
            return Results.BadRequest(new { error = "namespace must be a DNS label and name a DNS subdomain (lower-case, at most 63/253 characters)" });
        var id = RolloutIds.ForTarget(new RolloutTarget(ns, name));
        timeline = RolloutTimeline.From(history.For(id), history.HooksFor(id));
        return timeline is null ? Results.NotFound(new { error = $"no rollout history for {ns}/{name}" }) : null;
    }

    private static async Task StreamAsync(HttpContext http, StatusPageBroadcaster broadcaster, CancellationToken ct)
    {
        using var subscription = broadcaster.Subscribe();
        if (subscription is null)
        {
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await http.Response.WriteAsync("too many live status pages", ct);
            return;
        }
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no"; // proxies must not buffer the stream
        await http.Response.WriteAsync("retry: 2000\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(KeepAlive);
                string frame;
                try
                {
                    var change = await subscription.Changes.ReadAsync(wait.Token);
                    frame = $"event: change\ndata: {JsonSerializer.Serialize(change, Json)}\n\n";
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    frame = ": keep-alive\n\n"; // lets the browser and proxies see the connection is alive
                }
                await http.Response.WriteAsync(frame, ct);
                await http.Response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (System.Threading.Channels.ChannelClosedException) { }
    }

    private static readonly Lazy<string> Html = new(() =>
    {
        using var stream = typeof(StatusPage).Assembly.GetManifestResourceStream("CanaryFlow.StatusPage.status.html")
            ?? throw new InvalidOperationException("embedded status page missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    internal static bool IsDnsLabel(string s) => s.Length <= 63 && DnsLabel().IsMatch(s);

    internal static bool IsDnsSubdomain(string s) => s.Length <= 253 && DnsSubdomain().IsMatch(s);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();
}
