using System.Net;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace CanaryFlow.Controller.Notifications.Delivery;

/// <summary>How hard an outbound webhook is tried: attempts and backoff of one round, and when its breaker opens.</summary>
public sealed record WebhookRetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay,
    double FailureRatio, int MinimumThroughput, TimeSpan SamplingDuration, TimeSpan BreakDuration);

/// <summary>
/// The one Polly pipeline for every outbound webhook (notification channels, rollout hooks): bounded exponential
/// retries with jitter of transient answers (5xx, 408, 429, no connection, a timeout), then a circuit breaker so a
/// dead receiver is not hammered. Each caller keeps one pipeline per receiver.
/// </summary>
public static class WebhookResilience
{
    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;

    /// <param name="retryOpenCircuit">Whether an open circuit counts as transient (the notification sender's rounds
    /// are retried later as a whole, so an open circuit is one more transient failure to it).</param>
    /// <param name="delay">Overrides the backoff for an answer that says when to come back (Retry-After).</param>
    public static ResiliencePipeline<HttpResponseMessage> Build(WebhookRetryPolicy policy, TimeProvider time, bool retryOpenCircuit = false,
        Func<RetryDelayGeneratorArguments<HttpResponseMessage>, ValueTask<TimeSpan?>>? delay = null)
    {
        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>().Handle<TimeoutRejectedException>()
            .Handle<BrokenCircuitException>(_ => retryOpenCircuit)
            .HandleResult(r => IsTransient(r.StatusCode));
        return new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = policy.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = policy.BaseDelay,
                MaxDelay = policy.MaxDelay,
                DelayGenerator = delay,
                // A retried answer is disposed; the last one is read by the caller.
                OnRetry = args => { args.Outcome.Result?.Dispose(); return ValueTask.CompletedTask; },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = policy.FailureRatio,
                MinimumThroughput = policy.MinimumThroughput,
                SamplingDuration = policy.SamplingDuration,
                BreakDuration = policy.BreakDuration,
            })
            .Build();
    }
}
