using System.Globalization;
using System.Text;
using CanaryFlow.Controller.Notifications.Delivery;
using CanaryFlow.Controller.Triggers.Security;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Notifications.Channels;

/// <summary>
/// Generic JSON webhook. Receivers verify it: <c>X-CanaryFlow-Signature: v1=hex(HMAC-SHA256(secret,
/// "{X-CanaryFlow-Timestamp}.{raw body}"))</c>, reject old timestamps, and dedupe on
/// <c>X-CanaryFlow-Delivery</c> (the same for every attempt of one message).
/// </summary>
public sealed class SignedWebhookNotifier(ChannelHttpSender sender, IOptions<NotificationOptions> options, TimeProvider time)
    : JsonWebhookNotifier(sender, options)
{
    public const string SignatureHeader = "X-CanaryFlow-Signature";
    public const string TimestampHeader = "X-CanaryFlow-Timestamp";
    public const string DeliveryHeader = "X-CanaryFlow-Delivery";

    public override string Kind => "webhook";

    protected override object Payload(TransitionSummary s, Notification n) => new
    {
        @event = "rollout.transitioned",
        delivery = n.Key,
        transition = n.Transition,
        summary = new { s.Title, s.Headline, outcome = s.Outcome.ToString().ToLowerInvariant(), s.Weight, s.Step, s.Metrics, s.Advice, s.StatusUrl, s.CanSteer, s.PromoteCommand, s.AbortCommand },
    };

    // Signed per attempt, so that a retried request carries a fresh timestamp.
    protected override void AddHeaders(HttpRequestMessage request, byte[] body, ChannelOptions channel, Notification notification) =>
        Sign(request, body, channel.Secret!, notification.Key, time);

    /// <summary>The scheme above, for every signed webhook CanaryFlow sends (notifications and rollout hooks).</summary>
    public static void Sign(HttpRequestMessage request, byte[] body, string secret, string delivery, TimeProvider time)
    {
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signed = Encoding.UTF8.GetBytes(timestamp + ".").Concat(body).ToArray();
        request.Headers.Add(TimestampHeader, timestamp);
        request.Headers.Add(SignatureHeader, "v1=" + SecretComparer.HmacSha256Hex(secret, signed));
        request.Headers.Add(DeliveryHeader, delivery);
    }
}
