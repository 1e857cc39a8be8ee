using System.Collections.Concurrent;
using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Notifications.Delivery;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// Calls one HTTP hook: a POST of a JSON body signed as the signed notification webhook is
/// (<see cref="SignedWebhookNotifier.Sign"/>), through a Polly pipeline per URL: a timeout per attempt (the hook's
/// own), bounded jittered retries of transient answers (5xx, 408, 429, no connection, a timeout), and a circuit
/// breaker so a dead receiver is not hammered at every tick. Never throws for the receiver's sake: every ending is
/// a <see cref="HookResult"/>. 2xx is yes/ok; any other answer is no/failed.
/// </summary>
public sealed class HookHttpCaller(IHttpClientFactory clients, IOptions<HookOptions> options, TimeProvider time, ILogger<HookHttpCaller> log)
{
    public const string HttpClientName = "canaryflow-hooks";
    private readonly ConcurrentDictionary<string, ResiliencePipeline<HttpResponseMessage>> _pipelines = new(StringComparer.Ordinal);

    public async Task<HookResult> CallAsync(HookSpec hook, HookCall call, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var timeout = hook.Timeout <= TimeSpan.Zero ? o.DefaultTimeout : hook.Timeout > o.MaxTimeout ? o.MaxTimeout : hook.Timeout;
        var body = JsonSerializer.SerializeToUtf8Bytes(Payload(hook, call), JsonSerializerOptions.Web);
        var delivery = $"{call.Delivery}.{hook.Name}";
        var pipeline = _pipelines.GetOrAdd(hook.Url!, _ => Build(o));
        var client = clients.CreateClient(HttpClientName);
        try
        {
            using var response = await pipeline.ExecuteAsync(async token =>
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(timeout); // the hook's own timeout, per attempt
                using var request = new HttpRequestMessage(HttpMethod.Post, hook.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new("application/json");
                if (o.SigningSecret is { Length: > 0 } secret) SignedWebhookNotifier.Sign(request, body, secret, delivery, time);
                else request.Headers.Add(SignedWebhookNotifier.DeliveryHeader, delivery);
                try { return await client.SendAsync(request, attempt.Token); }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    throw new TimeoutRejectedException($"no answer within {timeout.TotalSeconds:0.#}s");
                }
            }, cancellationToken);
            var text = await ReadShortAsync(response, cancellationToken);
            return response.IsSuccessStatusCode
                ? new HookResult(hook, HookOutcomes.Ok, $"answered {(int)response.StatusCode}{text}")
                : new HookResult(hook, HookOutcomes.Failed, $"answered {(int)response.StatusCode}{text}");
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or BrokenCircuitException)
        {
            // The type and a short reason only: the URL may carry a token.
            log.LogInformation("Hook {Hook} ({Type}) of {Target} unreachable: {Error}", hook.Name, hook.Type, call.Target, e.GetType().Name);
            var why = e switch
            {
                BrokenCircuitException => "circuit open after repeated failures",
                TimeoutRejectedException => e.Message,
                HttpRequestException h => h.HttpRequestError.ToString(),
                _ => e.GetType().Name,
            };
            return new HookResult(hook, HookOutcomes.Unreachable, $"{why} ({o.MaxAttempts} attempt(s))");
        }
    }

    private static object Payload(HookSpec hook, HookCall call) => new
    {
        @event = "rollout.hook",
        hook = hook.Name,
        type = hook.Type,
        // Flagger's webhook fields, so receivers written for it work: name, namespace, phase, metadata.
        name = call.Target.Name,
        @namespace = call.Target.Namespace,
        phase = call.Phase,
        revision = call.Revision,
        weight = call.Weight,
        metadata = hook.Metadata ?? new Dictionary<string, string>(),
    };

    // A receiver may say why it said no: the first 200 characters go into the outcome.
    private static async Task<string> ReadShortAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = (await response.Content.ReadAsStringAsync(ct)).Trim();
        if (text.Length == 0) return "";
        return ": " + (text.Length > 200 ? text[..200] + "…" : text);
    }

    // Real time, not the engine's clock: the waits are between network attempts (a test's fake clock would stop
    // them for good). The breaker opens only when every call of the last 2 minutes failed (3 at least).
    private static ResiliencePipeline<HttpResponseMessage> Build(HookOptions o) => WebhookResilience.Build(
        new WebhookRetryPolicy(o.MaxAttempts, o.RetryBaseDelay, TimeSpan.FromSeconds(5), FailureRatio: 1.0, MinimumThroughput: 3,
            SamplingDuration: TimeSpan.FromMinutes(2), o.BreakDuration), TimeProvider.System);
}
