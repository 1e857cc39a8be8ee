using System.Net;

namespace CanaryFlow.Sandbox.Workloads;

/// <param name="Stable">Where the stable share goes.</param>
/// <param name="Canary">Where the canary share goes (null: everything to stable).</param>
/// <param name="CanaryWeight">0..100, the percentage of requests sent to the canary, spread evenly.</param>
/// <param name="MaxRequests">Stop after this many requests.</param>
/// <param name="MaxDuration">Stop after this long, whichever comes first.</param>
/// <param name="Concurrency">Requests in flight at once.</param>
/// <param name="PauseBetweenRequests">Each worker waits this long after a request (limits the rate).</param>
public sealed record LoadPlan(
    Uri Stable,
    Uri? Canary,
    int CanaryWeight,
    int MaxRequests,
    TimeSpan MaxDuration,
    int Concurrency = 4,
    TimeSpan PauseBetweenRequests = default);

public sealed record LoadResult(int Sent, int ToCanary, int ToStable, int ServerErrors, int TransportFailures);

/// <summary>
/// A bounded load generator for the demo workloads: always stops by count and by time, and talks
/// to loopback addresses only (it refuses anything else).
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadResult> RunAsync(LoadPlan plan, CancellationToken cancellationToken = default)
    {
        Validate(plan);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(plan.MaxDuration);
        long next = -1;
        int toCanary = 0, toStable = 0, serverErrors = 0, failures = 0;

        async Task WorkerAsync()
        {
            while (!deadline.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= plan.MaxRequests) return;
                // Request i goes to the canary when the running canary quota grows: an even split.
                var canary = plan.Canary is not null && (i + 1) * plan.CanaryWeight / 100 > i * plan.CanaryWeight / 100;
                Interlocked.Increment(ref canary ? ref toCanary : ref toStable);
                try
                {
                    using var response = await http.GetAsync(canary ? plan.Canary : plan.Stable, deadline.Token);
                    if ((int)response.StatusCode >= 500) Interlocked.Increment(ref serverErrors);
                    if (plan.PauseBetweenRequests > TimeSpan.Zero) await Task.Delay(plan.PauseBetweenRequests, deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, plan.Concurrency).Select(_ => Task.Run(WorkerAsync, CancellationToken.None)));
        cancellationToken.ThrowIfCancellationRequested();
        return new LoadResult(toCanary + toStable, toCanary, toStable, serverErrors, failures);
    }

    private static void Validate(LoadPlan plan)
    {
        EnsureLoopback(plan.Stable);
        if (plan.Canary is not null) EnsureLoopback(plan.Canary);
        if (plan.CanaryWeight is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(plan), "CanaryWeight must be 0..100");
        if (plan.MaxRequests < 0) throw new ArgumentOutOfRangeException(nameof(plan), "MaxRequests must not be negative");
        if (plan.MaxDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(plan), "MaxDuration must be positive");
        if (plan.Concurrency is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(plan), "Concurrency must be 1..256");
    }

    private static void EnsureLoopback(Uri uri)
    {
        if (!uri.IsAbsoluteUri || !IPAddress.TryParse(uri.Host, out var ip) || !IPAddress.IsLoopback(ip))
            throw new ArgumentException($"the load generator only sends to loopback IP addresses, not '{uri}'");
    }
}
