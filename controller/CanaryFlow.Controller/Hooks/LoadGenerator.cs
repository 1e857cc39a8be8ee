using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// The built-in load-generator hook (<c>type: rollout</c> with <c>load</c>): each call makes sure GET requests go to
/// the load's URL at its rate until <c>duration</c> from now (a later call extends a running load, never starts a
/// second one). Bounded: at most <see cref="HookOptions.MaxLoadRequestsPerSecond"/>, for at most
/// <see cref="HookOptions.MaxLoadDuration"/>, with as many requests in flight as one second's worth. Answers are
/// only counted: judging them is Prometheus' job, from the mesh's metrics.
/// </summary>
public sealed class LoadGenerator(IHttpClientFactory clients, IOptions<HookOptions> options, ILogger<LoadGenerator> log) : IDisposable
{
    private sealed class Run
    {
        public DateTimeOffset Until;
        public long Sent, Failed;
        public Task Loop = Task.CompletedTask;
    }

    private readonly ConcurrentDictionary<string, Run> _runs = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResiliencePipeline _timeout = new ResiliencePipelineBuilder().AddTimeout(TimeSpan.FromSeconds(5)).Build();

    /// <summary>Starts or extends the load; answers at once.</summary>
    public HookResult Start(HookSpec hook, HookCall call)
    {
        var load = hook.Load!;
        var o = options.Value;
        var rate = Math.Clamp(load.RequestsPerSecond, 1, o.MaxLoadRequestsPerSecond);
        var duration = load.Duration <= TimeSpan.Zero || load.Duration > o.MaxLoadDuration ? o.MaxLoadDuration : load.Duration;
        var key = $"{call.Target}/{hook.Name}";
        var run = _runs.GetOrAdd(key, _ => new Run());
        lock (run)
        {
            // Real time: the load is real traffic, whatever clock drives the engine.
            run.Until = DateTimeOffset.UtcNow + duration;
            if (run.Loop.IsCompleted) run.Loop = Task.Run(() => LoopAsync(key, run, load.Url, rate));
            return new HookResult(hook, HookOutcomes.Ok,
                $"load of {rate}/s on {load.Url} until {run.Until:HH:mm:ss}Z ({run.Sent} sent, {run.Failed} failed so far)");
        }
    }

    /// <summary>Requests sent and failed so far for one hook of one target (for tests and the status page).</summary>
    public (long Sent, long Failed) Counts(RolloutTarget target, string hook) =>
        _runs.TryGetValue($"{target}/{hook}", out var r) ? (Interlocked.Read(ref r.Sent), Interlocked.Read(ref r.Failed)) : (0, 0);

    /// <summary>Completes when the load of one hook of one target has stopped sending (its duration ran out).</summary>
    public Task Finished(RolloutTarget target, string hook) =>
        _runs.TryGetValue($"{target}/{hook}", out var r) ? r.Loop : Task.CompletedTask;

    private async Task LoopAsync(string key, Run run, string url, int rate)
    {
        var client = clients.CreateClient(HookHttpCaller.HttpClientName);
        var inFlight = new SemaphoreSlim(rate, rate); // not disposed: sends still in flight release it
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
        try
        {
            // The end is checked after each tick, not before the first: a loop that a busy thread pool starts after its
            // end (CI saw one start over 500 ms late) still sends once, so a load reported as started did send.
            do
            {
                if (!await timer.WaitForNextTickAsync(_stopping.Token)) break;
                // A slow target gets no more than one second's worth of requests at a time: skip, do not queue.
                if (await inFlight.WaitAsync(0)) _ = SendAsync(client, url, run, inFlight);
            } while (DateTimeOffset.UtcNow < run.Until);
        }
        catch (OperationCanceledException) { }
        log.LogInformation("Load {Key} finished: {Sent} sent, {Failed} failed", key, run.Sent, run.Failed);
    }

    private async Task SendAsync(HttpClient client, string url, Run run, SemaphoreSlim inFlight)
    {
        try
        {
            using var response = await _timeout.ExecuteAsync(t => new ValueTask<HttpResponseMessage>(client.GetAsync(url, t)), _stopping.Token);
            if ((int)response.StatusCode >= 500) Interlocked.Increment(ref run.Failed);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or OperationCanceledException)
        {
            Interlocked.Increment(ref run.Failed);
        }
        finally
        {
            Interlocked.Increment(ref run.Sent);
            inFlight.Release();
        }
    }

    public void Dispose() => _stopping.Cancel(); // sends still in flight read its token
}
