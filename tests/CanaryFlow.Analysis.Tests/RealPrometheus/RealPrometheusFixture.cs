using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Analysis.Tests.RealPrometheus;

[CollectionDefinition(Name)]
public sealed class RealPrometheusCollection : ICollectionFixture<RealPrometheusFixture>
{
    public const string Name = "real prometheus";
}

/// <summary>
/// One real Prometheus shared by every test in the collection, scraping demo workloads in the
/// namespace "shop" that keep receiving load for the fixture's lifetime (bounded by time and count).
/// </summary>
public sealed class RealPrometheusFixture : IAsyncLifetime
{
    public const string Namespace = "shop";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopLoad = new();
    private readonly List<DemoWorkload> _workloads = [];
    private Task _load = Task.CompletedTask;

    public PrometheusProcess Prometheus { get; private set; } = null!;

    /// <summary>Healthy canary and its healthy stable, 50/50.</summary>
    public const string Healthy = "healthy";
    /// <summary>20% of requests answered 503.</summary>
    public const string Flaky = "flaky";
    /// <summary>Every request takes 500 ms.</summary>
    public const string Slow = "slow";
    /// <summary>About one request a second: below MinRequests in any interval.</summary>
    public const string Quiet = "quiet";
    /// <summary>Every request answered 503.</summary>
    public const string Broken = "broken";
    /// <summary>Every request answered 503, at 10% next to a healthy stable (the sequential error-rate test).</summary>
    public const string Failing = "failing";

    public static string Stable(string canary) => canary + "-primary";

    public async Task InitializeAsync()
    {
        async Task<DemoWorkload> Start(string name, WorkloadBehaviour behaviour)
        {
            var w = await DemoWorkload.StartAsync(new DemoWorkloadOptions(Namespace, name, behaviour));
            _workloads.Add(w);
            return w;
        }

        var healthy = await Start(Healthy, WorkloadBehaviour.Healthy);
        var healthyStable = await Start(Stable(Healthy), WorkloadBehaviour.Healthy);
        var flaky = await Start(Flaky, new WorkloadBehaviour(ErrorRate: 0.2));
        var slow = await Start(Slow, new WorkloadBehaviour(Latency: TimeSpan.FromMilliseconds(500)));
        var slowStable = await Start(Stable(Slow), WorkloadBehaviour.Healthy);
        var quiet = await Start(Quiet, WorkloadBehaviour.Healthy);
        var broken = await Start(Broken, new WorkloadBehaviour(ErrorRate: 1));
        var failing = await Start(Failing, new WorkloadBehaviour(ErrorRate: 1));
        var failingStable = await Start(Stable(Failing), WorkloadBehaviour.Healthy);

        Prometheus = await PrometheusProcess.StartAsync(_workloads.Select(w => w.ScrapeTarget));

        // Bounded: every plan stops after 3 minutes or its request count, whichever is first.
        var max = TimeSpan.FromMinutes(3);
        var pause = TimeSpan.FromMilliseconds(50);
        var plans = new[]
        {
            new LoadPlan(healthyStable.Address, healthy.Address, 50, 20_000, max, 2, pause),
            new LoadPlan(flaky.Address, null, 0, 10_000, max, 1, pause),
            new LoadPlan(slowStable.Address, slow.Address, 50, 20_000, max, 16, pause),
            new LoadPlan(quiet.Address, null, 0, 200, max, 1, TimeSpan.FromSeconds(1)),
            new LoadPlan(broken.Address, null, 0, 10_000, max, 1, pause),
            new LoadPlan(failingStable.Address, failing.Address, 10, 20_000, max, 2, pause),
        };
        _load = Task.WhenAll(plans.Select(p => LoadGenerator.RunAsync(p, _stopLoad.Token)));

        await WaitForTrafficAsync();
    }

    /// <summary>A client (own circuit breaker) with short timings suited to tests.</summary>
    public PrometheusClient CreateClient(TimeSpan? breakDuration = null) => new(Options(breakDuration), TimeProvider.System);

    public PrometheusOptions Options(TimeSpan? breakDuration = null) => new()
    {
        Address = Prometheus.Address.ToString(),
        AttemptTimeout = TimeSpan.FromSeconds(2),
        QueryTimeout = TimeSpan.FromSeconds(5),
        MaxRetries = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        CircuitBreakDuration = breakDuration ?? TimeSpan.FromSeconds(1),
        CircuitSamplingDuration = TimeSpan.FromSeconds(5),
        BatchWindow = TimeSpan.FromSeconds(1),
        ComparisonStep = TimeSpan.FromSeconds(1),
        ComparisonRateWindow = TimeSpan.FromSeconds(5),
    };

    // Every canary's requests must be in Prometheus over a whole interval before tests judge them.
    private async Task WaitForTrafficAsync()
    {
        using var client = CreateClient();
        var query = $"sum by (destination_workload) (increase(istio_requests_total{{destination_workload_namespace=\"{Namespace}\"}}[{(int)Interval.TotalSeconds}s]))";
        string[] wanted = [Healthy, Stable(Healthy), Flaky, Slow, Stable(Slow), Broken, Stable(Failing)];
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var result = await client.QueryAsync(query, null, CancellationToken.None);
            var counts = result.Vector.ToDictionary(s => s.Labels["destination_workload"], s => s.Point.Value);
            if (wanted.All(w => counts.GetValueOrDefault(w) >= 60) && counts.GetValueOrDefault(Quiet) > 0) return;
            await Task.Delay(500);
        }
        throw new InvalidOperationException("The demo workloads' traffic did not reach Prometheus within 30 s.");
    }

    public async Task DisposeAsync()
    {
        await _stopLoad.CancelAsync();
        try { await _load; } catch (OperationCanceledException) { } // stopping the load is the point
        await Prometheus.DisposeAsync();
        foreach (var w in _workloads) await w.DisposeAsync();
        _stopLoad.Dispose();
    }
}
