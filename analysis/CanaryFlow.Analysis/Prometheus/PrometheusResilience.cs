using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// The one pipeline around every Prometheus query: overall timeout, then bounded jittered retries,
/// then a circuit breaker (so an outage makes checks fail fast instead of piling up retries), then
/// a per-attempt timeout. Only transient failures are retried or counted by the breaker; a bad
/// PromQL answer (bad_data) is final at once.
/// </summary>
public static class PrometheusResilience
{
    public static ResiliencePipeline Build(PrometheusOptions options, TimeProvider timeProvider)
    {
        var transient = new PredicateBuilder()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .Handle<PrometheusUnavailableException>();

        var builder = new ResiliencePipelineBuilder { TimeProvider = timeProvider }.AddTimeout(options.QueryTimeout);
        if (options.MaxRetries > 0)
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
            });
        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = options.CircuitFailureRatio,
                MinimumThroughput = options.CircuitMinimumThroughput,
                SamplingDuration = options.CircuitSamplingDuration,
                BreakDuration = options.CircuitBreakDuration,
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }
}
