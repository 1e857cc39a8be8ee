using System.Net;
using System.Threading.RateLimiting;
using CanaryFlow.Controller.Kubernetes.Leadership;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace CanaryFlow.Controller.Kubernetes.Api;

/// <summary>
/// Puts every request of the Kubernetes client through one Polly pipeline: bounded, jittered retries on
/// 429/5xx/timeouts/connection failures that honour Retry-After, a circuit breaker (so a sick API server
/// is not hammered), and a per-attempt timeout. Lives in the HTTP stack so that no call (including the
/// leader-election lease calls, the watches) can bypass it. At most <see cref="KubernetesOptions.MaxConcurrentRequests"/>
/// requests are in flight at once; a request waits for its turn after the breaker and before the timeout, so a wait
/// is neither a failure nor a timed-out attempt, and a retry's backoff holds no turn. Watches skip the bound and the
/// timeout: they are long-lived by design.
/// </summary>
public sealed class ResilienceHandler : DelegatingHandler
{
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    private readonly WriteFence _fence;

    /// <summary>Owned: its idle-partition timer runs until it is disposed, so it is disposed with the handler.</summary>
    private readonly PartitionedRateLimiter<bool> _turns;

    public ResilienceHandler(IOptions<KubernetesOptions> options, TimeProvider time, WriteFence fence)
    {
        _turns = Turns(options.Value.MaxConcurrentRequests);
        _pipeline = Build(options.Value, time, _turns);
        _fence = fence;
    }

    /// <summary>Whether the turns were disposed with the handler (a test reads it).</summary>
    internal bool TurnsDisposed
    {
        get
        {
            try { _turns.GetStatistics(false); return false; }
            catch (ObjectDisposedException) { return true; }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _turns.Dispose();
        base.Dispose(disposing);
    }

    private static ResiliencePipeline<HttpResponseMessage> Build(KubernetesOptions o, TimeProvider time, PartitionedRateLimiter<bool> turns)
    {
        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => r.StatusCode == HttpStatusCode.TooManyRequests || ((int)r.StatusCode >= 500 && r.StatusCode != HttpStatusCode.NotImplemented));
        return new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = Math.Max(1, o.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = o.RetryBaseDelay,
                MaxDelay = o.MaxRetryAfter,
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, time, o.MaxRetryAfter)),
                OnRetry = args => { args.Outcome.Result?.Dispose(); return default; },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = 0.5,
                MinimumThroughput = o.BreakerMinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = o.BreakDuration,
            })
            .AddRateLimiter(new RateLimiterStrategyOptions
            {
                RateLimiter = args => turns.AcquireAsync(args.Context.Properties.GetValue(TakesNoTurn, false), 1, args.Context.CancellationToken),
            })
            .AddTimeout(new TimeoutStrategyOptions
            {
                // A watch is a long-lived stream by design: no per-attempt timeout for it (its loop bounds it instead).
                TimeoutGenerator = args => ValueTask.FromResult(args.Context.Properties.GetValue(IsWatch, false) ? Timeout.InfiniteTimeSpan : o.RequestTimeout),
            })
            .Build();
    }

    /// <summary>Turns for requests (FIFO; the queue is bounded by the callers, each of which waits on its own token);
    /// watches, Lease calls and a bound of 0 take no turn.</summary>
    private static PartitionedRateLimiter<bool> Turns(int maxConcurrent) =>
        PartitionedRateLimiter.Create<bool, bool>(noTurn => noTurn || maxConcurrent == 0
            ? RateLimitPartition.GetNoLimiter(true)
            : RateLimitPartition.GetConcurrencyLimiter(false, _ => new ConcurrencyLimiterOptions
            {
                PermitLimit = maxConcurrent, QueueLimit = int.MaxValue, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            }));

    /// <summary>The server's Retry-After (seconds or a date), capped; null lets the backoff decide.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeProvider time, TimeSpan cap)
    {
        var header = response?.Headers.RetryAfter;
        var wait = header?.Delta ?? (header?.Date is { } date ? date - time.GetUtcNow() : null);
        return wait is { } w ? TimeSpan.FromTicks(Math.Clamp(w.Ticks, 0, cap.Ticks)) : null;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ThrowIfFenced(request); // before the pipeline too: a fenced write is refused as such, whatever the breaker's state
        // A request message can be sent once only: buffer the body and send a fresh copy per attempt.
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        var isWatch = request.RequestUri?.Query.Contains("watch=true", StringComparison.Ordinal) == true;
        context.Properties.Set(IsWatch, isWatch);
        // A Lease renewal queued behind a burst of rollout requests could miss its renew deadline and lose leadership
        // (or a partition) for nothing: Lease calls skip the queue, as client-go's leader election uses a client of its own.
        context.Properties.Set(TakesNoTurn, isWatch || IsLeaseCall(request));
        try
        {
            return await _pipeline.ExecuteAsync(async (ctx, state) => await state.Handler.SendCopyAsync(state.Request, state.Body, ctx.CancellationToken),
                context, (Handler: this, Request: request, Body: body));
        }
        finally { ResilienceContextPool.Shared.Return(context); }
    }

    private static readonly ResiliencePropertyKey<bool> IsWatch = new("canaryflow.k8s.watch");
    private static readonly ResiliencePropertyKey<bool> TakesNoTurn = new("canaryflow.k8s.no-turn");

    private static bool IsLeaseCall(HttpRequestMessage request) =>
        request.RequestUri?.AbsolutePath.StartsWith("/apis/coordination.k8s.io/", StringComparison.Ordinal) == true;

    /// <summary>One attempt. The fence is checked again per attempt: a write retried after leadership (or its partition)
    /// was lost must not land after the next writer started.</summary>
    private Task<HttpResponseMessage> SendCopyAsync(HttpRequestMessage request, byte[]? body, CancellationToken ct)
    {
        ThrowIfFenced(request);
        return base.SendAsync(Copy(request, body), ct);
    }

    /// <summary>Writes other than the Leases' own leave this replica only while the fence allows them.</summary>
    private void ThrowIfFenced(HttpRequestMessage request)
    {
        if (request.Method != HttpMethod.Get && !IsLeaseCall(request) && !_fence.AllowsWrite())
            throw new NotLeaderException(request.Method.Method, request.RequestUri?.AbsolutePath);
    }

    private static HttpRequestMessage Copy(HttpRequestMessage request, byte[]? body)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var header in request.Headers) copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        if (body is not null)
        {
            copy.Content = new ByteArrayContent(body);
            foreach (var header in request.Content!.Headers) copy.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        return copy;
    }
}
