using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Seams;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Web;

public static class AlertmanagerEndpoints
{
    /// <summary>Binds and validates (at start-up) the "Alertmanager" section.</summary>
    public static IServiceCollection AddCanaryFlowAlertmanager(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AlertmanagerOptions>().Bind(configuration.GetSection(AlertmanagerOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AlertmanagerOptions>, AlertmanagerOptionsValidator>());
        return services;
    }

    /// <summary>
    /// POST {Alertmanager:Path}: a firing alert that names a canary with a running rollout publishes
    /// <see cref="AbortRollout"/> at once. 401 without the bearer token, 413 over the size limit, 400 for a
    /// malformed body (and then nothing is published), otherwise 202 with
    /// <c>{"aborted": ["ns/name", ...], "ignored": [{"alert", "target", "reason"}, ...]}</c>: only the rollouts
    /// it aborted, and each other alert with the reason it aborted nothing.
    /// </summary>
    public static IEndpointConventionBuilder MapAlertmanagerReceiver(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<AlertmanagerOptions>>().Value;
        return endpoints.MapPost(options.Path, (HttpContext context, IPublishEndpoint publish, IRolloutStore store) => ReceiveAsync(context, publish, store, options))
            .WithName("AlertmanagerReceiver");
    }

    private static async Task<IResult> ReceiveAsync(HttpContext context, IPublishEndpoint publish, IRolloutStore store, AlertmanagerOptions options)
    {
        if (!Authorized(context.Request, options.BearerToken))
            return Results.Problem("missing or wrong bearer token", statusCode: StatusCodes.Status401Unauthorized);

        var body = await ReadLimitedAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (body is null)
            return Results.Problem($"body larger than {options.MaxBodyBytes} bytes", statusCode: StatusCodes.Status413PayloadTooLarge);

        AlertmanagerPayload? payload;
        try
        {
            payload = JsonSerializer.Deserialize<AlertmanagerPayload>(body);
        }
        catch (JsonException e)
        {
            return Results.Problem($"malformed JSON: {e.Message}", statusCode: StatusCodes.Status400BadRequest);
        }
        if (AlertmanagerMatcher.Validate(payload) is { } problem)
            return Results.Problem(problem, statusCode: StatusCodes.Status400BadRequest);

        var phases = (await store.LoadAllAsync(context.RequestAborted)).DistinctBy(s => s.Target).ToDictionary(s => s.Target, s => s.CurrentState);
        var decisions = AlertmanagerMatcher.Decide(payload!, phases.GetValueOrDefault);
        foreach (var abort in decisions.Aborts)
            await publish.Publish(new AbortRollout(RolloutIds.ForTarget(abort.Target), abort.Target, $"alertmanager:{abort.AlertName}", abort.Reason),
                context.RequestAborted);
        return Results.Accepted(value: new
        {
            aborted = decisions.Aborts.Select(a => a.Target.ToString()).ToArray(),
            ignored = decisions.Ignored.Select(i => new { alert = i.Alert, target = i.Target, reason = i.Reason }).ToArray(),
        });
    }

    private static bool Authorized(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        // Constant-time comparison: the token must not leak through response timing.
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), Encoding.UTF8.GetBytes(token));
    }

    // Reads at most limit bytes; null when the body is larger (checked before and while reading).
    private static async Task<byte[]?> ReadLimitedAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
