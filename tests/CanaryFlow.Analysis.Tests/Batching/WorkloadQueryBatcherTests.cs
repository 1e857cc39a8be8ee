using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Analysis.Tests.Batching;

public class WorkloadQueryBatcherTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Answers each query with the next completion source, so a test decides when and how.</summary>
    private sealed class ScriptedClient : IPrometheusClient
    {
        public List<TaskCompletionSource<PromQueryResult>> Pending { get; } = [];

        public Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<PromQueryResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Pending) Pending.Add(answer);
            return answer.Task;
        }

        public Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }

    // xunit makes a new instance per test: each test gets a fresh clock, client and batcher.
    private readonly ScriptedClient _client = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddHours(1));
    private readonly WorkloadQueryBatcher _batcher;
    private readonly WorkloadInterest _interest = new();
    private readonly DateTimeOffset _at;

    public WorkloadQueryBatcherTests()
    {
        _batcher = new WorkloadQueryBatcher(_client, _time, Window, _interest);
        _at = _time.GetUtcNow();
    }

    private Task<IReadOnlyDictionary<string, double>> Ask(string kind = "requests", string ns = "shop", TimeSpan? interval = null, DateTimeOffset? when = null) =>
        _batcher.SharedAsync(kind, ns, interval ?? Interval, when ?? _at, async () => ByWorkload(await _client.QueryAsync("q", when ?? _at, CancellationToken.None)),
            CancellationToken.None);

    private static IReadOnlyDictionary<string, double> ByWorkload(PromQueryResult result) =>
        result.Vector.ToDictionary(s => s.Labels["destination_workload"], s => s.Point.Value);

    private static PromQueryResult Counts(params (string Workload, double Value)[] values) =>
        new(PromResultType.Vector,
            values.Select(v => new PromSample(new Dictionary<string, string> { ["destination_workload"] = v.Workload }, new PromPoint(DateTimeOffset.UnixEpoch, v.Value))).ToArray(),
            [], null, null, []);

    [Fact]
    public async Task Concurrent_checks_in_one_bucket_share_one_query()
    {
        var calls = Enumerable.Range(0, 1000).Select(_ => Ask()).ToList();
        Assert.Single(_client.Pending);
        _client.Pending[0].SetResult(Counts(("podinfo", 42)));
        var results = await Task.WhenAll(calls);
        Assert.All(results, r => Assert.Equal(42, r["podinfo"]));
    }

    [Fact]
    public async Task A_slow_query_is_still_shared_by_checks_arriving_long_after_it_started()
    {
        var first = Ask();
        _time.Advance(Window * 4); // Prometheus is slow; the tick's other checks keep coming
        var late = Ask();
        _client.Pending[0].SetResult(Counts(("podinfo", 1)));
        await Task.WhenAll(first, late);
        _time.Advance(Window * 4); // and some read it long after it was answered
        await Ask();
        Assert.Single(_client.Pending);
    }

    [Fact]
    public async Task A_failed_query_is_shared_by_waiting_checks_but_asked_again_afterwards()
    {
        var a = Ask();
        var b = Ask();
        _client.Pending[0].SetException(new HttpRequestException("connection refused"));
        await Assert.ThrowsAsync<HttpRequestException>(() => a);
        await Assert.ThrowsAsync<HttpRequestException>(() => b);

        var again = Ask();
        Assert.Equal(2, _client.Pending.Count);
        _client.Pending[1].SetResult(Counts(("podinfo", 3)));
        Assert.Equal(3, (await again)["podinfo"]);
    }

    [Fact]
    public async Task Answers_unused_for_a_long_time_are_dropped()
    {
        var first = Ask();
        _client.Pending[0].SetResult(Counts(("podinfo", 1)));
        await first;
        _time.Advance(TimeSpan.FromMinutes(2));
        _ = Ask();
        Assert.Equal(2, _client.Pending.Count);
    }

    [Fact]
    public async Task A_grid_points_answer_is_kept_while_its_checks_read_it_and_dropped_once_none_has_for_the_retention()
    {
        var batcher = new WorkloadQueryBatcher(_client, _time, TimeSpan.FromMilliseconds(500)); // the default window
        Task<IReadOnlyDictionary<string, double>> Read() => batcher.SharedAsync("requests", "shop", Interval, _at,
            async () => ByWorkload(await _client.QueryAsync("q", _at, CancellationToken.None)), CancellationToken.None);
        var first = Read();
        _client.Pending[0].SetResult(Counts(("podinfo", 1)));
        await first;
        var gap = WorkloadQueryBatcher.MinRetention - TimeSpan.FromSeconds(1);
        for (var i = 0; i < 4; i++) // checks behind a queue, each just inside the retention: one query in all
        {
            _time.Advance(gap);
            Assert.Equal(1, (await Read())["podinfo"]);
        }
        Assert.Single(_client.Pending);

        _time.Advance(WorkloadQueryBatcher.MinRetention + TimeSpan.FromSeconds(1)); // no check read it: its memory is given back
        _ = Read();
        Assert.Equal(2, _client.Pending.Count);
    }

    [Fact]
    public void Other_namespaces_intervals_and_later_buckets_get_their_own_query()
    {
        _ = Ask();
        _ = Ask(ns: "billing");
        _ = Ask(interval: Interval * 2);
        _ = Ask(kind: "errors");
        _ = Ask(when: _at + Window);
        Assert.Equal(5, _client.Pending.Count);
    }

    /// <summary>An answer holding the workloads its read named (all, when unnamed).</summary>
    private sealed record Held(LabelFilter? Names) : IWorkloadAnswer
    {
        public bool Named => Names is not null;
        public bool Covers(string workload) => Names is null || Names.Contains(workload);
    }

    private static Task<Held> NamedRead(WorkloadQueryBatcher batcher, List<string> sent, DateTimeOffset at, string canary) =>
        batcher.NamedAsync("requests", "shop", Interval, at, only =>
        {
            var names = only?.Invoke();
            lock (sent) sent.Add(names is null ? "*" : string.Join(",", names.Values.Order()));
            return Task.FromResult(new Held(names));
        }, canary, canary + "-primary", CancellationToken.None);

    [Fact]
    public async Task A_workload_another_batcher_of_the_process_reads_is_named_in_the_first_shared_read_of_this_one()
    {
        // The sequential counters (one batcher) read "checkout" at every tick; at its step's end the thresholds (another
        // batcher) read it for the first time, in a time bucket whose first read another canary's check has sent.
        var interest = new WorkloadInterest();
        var counters = new WorkloadQueryBatcher(_client, _time, Window, interest);
        var thresholds = new WorkloadQueryBatcher(_client, _time, Window, interest);
        var (countersSent, thresholdsSent) = (new List<string>(), new List<string>());
        await NamedRead(counters, countersSent, _at, "checkout");

        await NamedRead(thresholds, thresholdsSent, _at + Window, "billing");
        var checkout = await NamedRead(thresholds, thresholdsSent, _at + Window, "checkout");

        Assert.True(checkout.Covers("checkout") && checkout.Covers("checkout-primary"));
        Assert.Equal(["billing,billing-primary,checkout,checkout-primary"], thresholdsSent); // one read, naming both canaries
    }

    [Fact]
    public async Task A_check_whose_workloads_were_not_wanted_when_a_tier_was_sent_takes_the_next_one()
    {
        var sent = new List<string>();
        await NamedRead(_batcher, sent, _at, "billing");
        var checkout = await NamedRead(_batcher, sent, _at, "checkout");

        Assert.True(checkout.Covers("checkout"));
        Assert.Equal(["billing,billing-primary", "checkout,checkout-primary"], sent); // the second tier names only what the first lacks
    }

    [Fact]
    public async Task A_later_tier_names_every_workload_wanted_since_the_earlier_ones_were_sent_and_serves_all_their_checks()
    {
        var sent = new List<string>();
        await NamedRead(_batcher, sent, _at, "billing");
        _interest.Ask("shop", _time.GetUtcNow(), "cart", "cart-primary"); // wanted by a check that has not reached the batcher yet
        var checkout = await NamedRead(_batcher, sent, _at, "checkout");
        var cart = await NamedRead(_batcher, sent, _at, "cart");
        var billing = await NamedRead(_batcher, sent, _at, "billing");

        Assert.Same(checkout, cart);
        Assert.True(billing.Covers("billing") && !billing.Covers("cart"));
        Assert.Equal(["billing,billing-primary", "cart,cart-primary,checkout,checkout-primary"], sent);
    }

    [Fact]
    public async Task A_grid_points_read_names_the_workloads_forecast_there_and_not_those_forecast_elsewhere()
    {
        // Three rollouts checked lately; the ticker says two are due at the next grid point and one a bucket later.
        foreach (var canary in new[] { "billing", "cart", "checkout" }) _interest.Ask("shop", _time.GetUtcNow(), canary, canary + "-primary");
        var next = _at + Window;
        _interest.Expect(new RolloutTarget("shop", "billing"), next);
        _interest.Expect(new RolloutTarget("shop", "cart"), next);
        _interest.Expect(new RolloutTarget("shop", "checkout"), next + Window);
        var sent = new List<string>();

        var billing = await NamedRead(_batcher, sent, next, "billing");
        var cart = await NamedRead(_batcher, sent, next, "cart");

        Assert.Same(billing, cart);
        Assert.False(billing.Covers("checkout"));
        Assert.Equal(["billing,billing-primary,cart,cart-primary"], sent);
    }

    [Fact]
    public async Task A_check_whose_forecast_moved_on_still_names_itself_and_a_workload_never_forecast_is_named_everywhere()
    {
        _interest.Ask("shop", _time.GetUtcNow(), "billing", "billing-primary"); // no forecast: may be due anywhere
        _interest.Expect(new RolloutTarget("shop", "checkout"), _at + Window); // forecast later than the check that comes now
        var sent = new List<string>();

        var checkout = await NamedRead(_batcher, sent, _at, "checkout");

        Assert.True(checkout.Covers("checkout") && checkout.Covers("checkout-primary"));
        Assert.Equal(["billing,billing-primary,checkout,checkout-primary"], sent);
    }

    [Fact]
    public void A_forecast_long_past_is_forgotten()
    {
        _interest.Expect(new RolloutTarget("shop", "gone"), _at); // a rollout that ended after this check was forecast
        _interest.Expect(new RolloutTarget("shop", "billing"), _at + Window);

        var later = _at + WorkloadInterest.Retention + Window;
        _interest.Expect(new RolloutTarget("shop", "cart"), later);
        var named = _interest.WantedAt("shop", later, _at, Window); // a straggler of the old bucket

        Assert.Empty(named.Values);
        Assert.Equal(["cart", "cart-primary"], _interest.WantedAt("shop", later, later, Window).Values.Order());
    }
}
