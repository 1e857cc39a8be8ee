using System.Globalization;
using System.Text;
using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Triggers.Security;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace CanaryFlow.Controller.Web;

/// <summary>
/// Slack interactivity: the Promote/Abort buttons of our notifications (POST /slack/interactions, form
/// field "payload") and the slash command /canary (POST /slack/commands). Every request is verified
/// with Slack's v0 signature (HMAC-SHA256 of "v0:{timestamp}:{body}" with the signing secret) within
/// the replay window, then the user is checked against the allow-list, then the command is published.
/// </summary>
public static class SlackEndpoints
{
    public static IServiceCollection AddCanaryFlowSlack(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SlackOptions>().Bind(configuration.GetSection(SlackOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SlackOptions>, SlackOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(SlackResponder.HttpClientName).RemoveAllLoggers(); // response URLs are credentials
        services.TryAddSingleton<SlackResponder>();
        return services;
    }

    public static IEndpointRouteBuilder MapSlackEndpoints(this IEndpointRouteBuilder app, string prefix = "/slack")
    {
        var group = app.MapGroup(prefix);
        group.MapPost("/interactions", (Delegate)((HttpContext c) => HandleAsync(c, ReadInteraction)));
        group.MapPost("/commands", (Delegate)((HttpContext c) => HandleAsync(c, ReadSlashCommand)));
        return app;
    }

    /// <summary>What a request asks: who, and either a command or a reply explaining why not.</summary>
    private sealed record SlackRequest(string UserId, string UserName, SlackCommand? Command, string? Reply, string? ResponseUrl = null);

    private static async Task<IResult> HandleAsync(HttpContext context, Func<Dictionary<string, StringValues>, SlackRequest> read)
    {
        var services = context.RequestServices;
        var options = services.GetRequiredService<IOptions<SlackOptions>>().Value;
        var logger = services.GetRequiredService<ILogger<SlackOptions>>();

        var body = await BoundedBody.ReadAsync(context, options.MaxBodyBytes);
        if (body is null) return Results.Problem("The body is larger than allowed.", statusCode: StatusCodes.Status413PayloadTooLarge);
        if (!IsSigned(context.Request, body, options, services.GetRequiredService<TimeProvider>()))
        {
            logger.LogWarning("Refused a Slack request with a missing, invalid or stale signature");
            return Results.Problem("Missing, invalid or stale Slack signature.", statusCode: StatusCodes.Status401Unauthorized);
        }

        SlackRequest request;
        try { request = read(QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body))); }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return Results.Problem("Malformed Slack request: " + e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        var responder = services.GetRequiredService<SlackResponder>();
        IResult Reply(string text)
        {
            if (responder.IsAllowed(request.ResponseUrl)) responder.ReplyInBackground(request.ResponseUrl!, EphemeralBody(text));
            return Ephemeral(text);
        }

        if (request.Command is null) return Reply(request.Reply ?? SlackCommands.Usage);
        if (!options.AllowedUsers.Contains(request.UserId, StringComparer.Ordinal))
        {
            logger.LogWarning("Slack user {User} is not allowed to {Verb} {Target}", request.UserId, request.Command.Verb, request.Command.Target);
            return Reply($"Sorry <@{request.UserId}>, you are not allowed to {request.Command.Verb} rollouts.");
        }

        var command = request.Command;
        var reason = command.Reason ?? $"{command.Verb} from Slack by @{request.UserName}";
        var message = SlackCommands.ToMessage(command, "slack:" + request.UserId, reason);
        await services.GetRequiredService<IPublishEndpoint>().Publish(message, message.GetType(), context.RequestAborted);
        logger.LogInformation("Slack user {User} asked to {Verb} {Target}", request.UserId, command.Verb, command.Target);
        return Reply($"{Capitalize(command.Verb)} requested for *{command.Target}* by <@{request.UserId}> ({reason}).");
    }

    private static bool IsSigned(HttpRequest request, byte[] body, SlackOptions options, TimeProvider time)
    {
        var timestamp = request.Headers["X-Slack-Request-Timestamp"].ToString();
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return false;
        var age = time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799));
        if (age.Duration() > options.ReplayWindow) return false;
        var signed = Encoding.UTF8.GetBytes($"v0:{timestamp}:").Concat(body).ToArray();
        return SecretComparer.HmacSha256HexMatches(request.Headers["X-Slack-Signature"].ToString(), "v0=", options.SigningSecret, signed);
    }

    // Button clicks: a block_actions payload whose first action is one of our buttons, valued "ns/name".
    private static SlackRequest ReadInteraction(Dictionary<string, StringValues> form)
    {
        var payload = JsonDocument.Parse(form["payload"].ToString()).RootElement;
        var user = payload.GetProperty("user");
        var userId = user.GetProperty("id").GetString() ?? throw new FormatException("user.id is missing.");
        var userName = user.TryGetProperty("username", out var n) ? n.GetString() ?? userId : userId;
        var responseUrl = payload.TryGetProperty("response_url", out var r) ? r.GetString() : null;
        if (payload.GetProperty("type").GetString() != "block_actions" || payload.GetProperty("actions").GetArrayLength() == 0)
            return new SlackRequest(userId, userName, null, "Nothing to do for this interaction.", responseUrl);
        var action = payload.GetProperty("actions")[0];
        var verb = action.GetProperty("action_id").GetString() switch
        {
            SlackNotifier.PromoteActionId => "promote",
            SlackNotifier.AbortActionId => "abort",
            _ => null,
        };
        var target = RolloutTarget.TryParse(action.TryGetProperty("value", out var v) ? v.GetString() : null);
        return verb is null || target is null
            ? new SlackRequest(userId, userName, null, "This button is not a CanaryFlow action.", responseUrl)
            : new SlackRequest(userId, userName, new SlackCommand(verb, target, null), null, responseUrl);
    }

    private static SlackRequest ReadSlashCommand(Dictionary<string, StringValues> form)
    {
        var userId = form.TryGetValue("user_id", out var id) && id.Count > 0 && id[0] is { Length: > 0 } u ? u : throw new FormatException("user_id is missing.");
        var userName = form.TryGetValue("user_name", out var name) ? name.ToString() : userId;
        var command = SlackCommands.ParseText(form.TryGetValue("text", out var text) ? text.ToString() : null);
        return new SlackRequest(userId, userName, command, command is null ? SlackCommands.Usage : null);
    }

    private static object EphemeralBody(string text) => new { response_type = "ephemeral", replace_original = false, text };

    private static IResult Ephemeral(string text) => Results.Json(EphemeralBody(text));

    private static string Capitalize(string s) => char.ToUpperInvariant(s[0]) + s[1..];
}
