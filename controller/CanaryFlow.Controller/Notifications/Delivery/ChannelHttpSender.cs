using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>
/// The channel did not take the message after a round of attempts. <see cref="Transient"/>: it may take it later
/// (5xx, 429, 408, no connection, a timeout, an open circuit), so the message is kept and tried again; otherwise
/// (e.g. 400, 404) trying again would not help.
/// </summary>
public sealed class NotificationDeliveryException(string message, bool transient) : Exception(message)
{
    public bool Transient { get; } = transient;
}

/// <summary>
/// Posts to a channel's webhook through a per-channel Polly pipeline: bounded jittered retries that honour
/// 429/503 Retry-After, a circuit breaker so a dead channel is not hammered, a token-bucket rate limit, and a
/// timeout per attempt. Every wait runs on the injected <see cref="TimeProvider"/>. It runs on the channel's
/// background worker, never on a consumer.
/// </summary>
public sealed class ChannelHttpSender(IHttpClientFactory clients, IOptions<NotificationOptions> options, TimeProvider time)
{
    public const string HttpClientName = "canaryflow-notifications";

    private sealed record ChannelPipeline(ResiliencePipeline<HttpResponseMessage> Rounds, ChannelRateLimit Rate, ResiliencePipeline Timeout);

    private readonly ConcurrentDictionary<string, ChannelPipeline> _pipelines = new(StringComparer.Ordinal);

    /// <param name="createRequest">Called per attempt: a request message can be sent only once.</param>
    public async Task SendAsync(string channelName, ChannelOptions channel, Func<HttpRequestMessage> createRequest, CancellationToken cancellationToken)
    {
        var pipeline = _pipelines.GetOrAdd(channelName, _ => Build(channel));
        var client = clients.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await pipeline.Rounds.ExecuteAsync(async token =>
            {
                // The token wait is outside the attempt's timeout: a slow rate is not a slow channel.
                await pipeline.Rate.TakeAsync(token);
                return await pipeline.Timeout.ExecuteAsync(async t =>
                {
                    using var request = createRequest();
                    return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, t);
                }, token);
            }, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or BrokenCircuitException
                                  || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The type only: an HttpRequestException's message can name the host, and the URL is a credential.
            throw new NotificationDeliveryException($"Channel '{channelName}' unreachable after {options.Value.MaxAttempts} attempt(s): {e.GetType().Name}.", transient: true);
        }
        using (response)
        {
            // The URL is a credential: the error names the channel and the status only.
            if (!response.IsSuccessStatusCode)
                throw new NotificationDeliveryException($"Channel '{channelName}' answered {(int)response.StatusCode} after {options.Value.MaxAttempts} attempt(s).",
                    WebhookResilience.IsTransient(response.StatusCode));
        }
    }

    private ChannelPipeline Build(ChannelOptions channel)
    {
        var o = options.Value;
        var rounds = WebhookResilience.Build(
            new WebhookRetryPolicy(o.MaxAttempts, o.RetryBaseDelay, o.MaxRetryAfter, FailureRatio: 0.8, RedeliverySchedule.FailuresToOpen,
                SamplingDuration: TimeSpan.FromSeconds(60), o.BreakDuration),
            time, retryOpenCircuit: true, delay: args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, o.MaxRetryAfter)));
        var timeout = new ResiliencePipelineBuilder { TimeProvider = time }.AddTimeout(o.AttemptTimeout).Build();
        return new ChannelPipeline(rounds, new ChannelRateLimit(channel.RatePerMinute, Math.Clamp(channel.RatePerMinute / 10, 1, 5), time), timeout);
    }
    // 429 and 503 may say when to come back, as seconds or as a date; otherwise the backoff applies.
    private TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan cap)
    {
        var header = response?.Headers.RetryAfter;
        if (header is null) return null;
        var wait = header.Delta ?? (header.Date is { } date ? date - time.GetUtcNow() : TimeSpan.Zero);
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > cap ? cap : wait;
    }
}
