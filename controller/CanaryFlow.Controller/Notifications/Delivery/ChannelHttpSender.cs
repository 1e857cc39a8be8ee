using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>The channel did not take the message after all attempts.</summary>
public sealed class NotificationDeliveryException(string message) : Exception(message);

/// <summary>
/// Posts to a channel's webhook through a per-channel Polly pipeline: bounded jittered retries that
/// honour 429 Retry-After, a circuit breaker so a dead channel is not hammered, a token-bucket rate
/// limit, and a timeout per attempt. It runs on the channel's background worker, never on a consumer.
/// </summary>
public sealed class ChannelHttpSender(IHttpClientFactory clients, IOptions<NotificationOptions> options, TimeProvider time)
{
    public const string HttpClientName = "canaryflow-notifications";

    private readonly ConcurrentDictionary<string, ResiliencePipeline<HttpResponseMessage>> _pipelines = new(StringComparer.Ordinal);

    /// <param name="createRequest">Called per attempt: a request message can be sent only once.</param>
    public async Task SendAsync(string channelName, ChannelOptions channel, Func<HttpRequestMessage> createRequest, CancellationToken cancellationToken)
    {
        var pipeline = _pipelines.GetOrAdd(channelName, _ => Build(channel));
        var client = clients.CreateClient(HttpClientName);
        using var response = await pipeline.ExecuteAsync(async token =>
        {
            using var request = createRequest();
            return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        }, cancellationToken);
        // The URL is a credential: the error names the channel and the status only.
        if (!response.IsSuccessStatusCode)
            throw new NotificationDeliveryException($"Channel '{channelName}' answered {(int)response.StatusCode} after {options.Value.MaxAttempts} attempt(s).");
    }

    private ResiliencePipeline<HttpResponseMessage> Build(ChannelOptions channel)
    {
        var o = options.Value;
        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>().Handle<TimeoutRejectedException>().Handle<BrokenCircuitException>().Handle<RateLimiterRejectedException>()
            .HandleResult(r => r.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)r.StatusCode >= 500);
        var perToken = TimeSpan.FromMinutes(1) / channel.RatePerMinute;
        return new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = o.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryBaseDelay,
                MaxDelay = o.MaxRetryAfter,
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, o.MaxRetryAfter)),
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = 0.8,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(60),
                BreakDuration = TimeSpan.FromSeconds(30),
            })
            .AddRateLimiter(new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Clamp(channel.RatePerMinute / 10, 1, 5),
                TokensPerPeriod = 1,
                ReplenishmentPeriod = perToken,
                QueueLimit = 1, // one worker per channel: at most one waiter, which waits instead of failing
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            }))
            .AddTimeout(o.AttemptTimeout)
            .Build();
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
