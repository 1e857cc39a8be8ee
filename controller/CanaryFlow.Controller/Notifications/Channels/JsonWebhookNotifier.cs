using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>The common part of the channel kinds: lay out the summary as the kind's JSON and post it.</summary>
public abstract class JsonWebhookNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options) : INotifier
{
    // Absent rather than null: Discord and Slack refuse some null fields (e.g. an embed "url": null).
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public abstract string Kind { get; }

    protected abstract object Payload(TransitionSummary summary, Notification notification);

    protected virtual void AddHeaders(HttpRequestMessage request, byte[] body, ChannelOptions channel, Notification notification) { }

    public Task NotifyAsync(Notification notification, ChannelOptions channel, CancellationToken cancellationToken)
    {
        var summary = TransitionSummary.From(notification.Transition, options.Value.StatusPageUrl);
        var body = JsonSerializer.SerializeToUtf8Bytes(Payload(summary, notification), Json);
        return sender.SendAsync(notification.ChannelName, channel, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, channel.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            AddHeaders(request, body, channel, notification);
            return request;
        }, cancellationToken);
    }

    /// <summary>The metric lines as one block of text, or a note that there is no analysis yet.</summary>
    protected static string MetricsText(TransitionSummary s, string bullet = "• ") =>
        s.Metrics.Count == 0 ? "No analysis yet." : string.Join("\n", s.Metrics.Select(m => bullet + m));

    protected static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
