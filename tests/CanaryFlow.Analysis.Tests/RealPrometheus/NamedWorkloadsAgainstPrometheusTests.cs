using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;

namespace CanaryFlow.Analysis.Tests.RealPrometheus;

/// <summary>The counter queries that name their workloads, answered by a real Prometheus: exactly those workloads, their
/// names taken literally, and the same counts as the namespace-wide read.</summary>
[Collection(RealPrometheusCollection.Name)]
public sealed class NamedWorkloadsAgainstPrometheusTests(RealPrometheusFixture fixture)
{
    private const string Ns = RealPrometheusFixture.Namespace;

    private static HashSet<string> Workloads(PromQueryResult result) =>
        result.Vector.Select(s => s.Labels[IstioQueries.WorkloadLabel]).ToHashSet();

    [Fact]
    public async Task A_query_naming_workloads_gets_exactly_those_and_a_dot_in_a_name_matches_only_a_dot()
    {
        using var client = fixture.CreateClient();
        var at = DateTimeOffset.UtcNow.AddSeconds(-2);
        var all = Workloads(await client.QueryAsync(IstioQueries.RequestsTotal(Ns), at, CancellationToken.None));
        var named = Workloads(await client.QueryAsync(IstioQueries.RequestsTotal(Ns, PromQl.AnyOf([RealPrometheusFixture.Healthy, RealPrometheusFixture.Flaky])), at, CancellationToken.None));
        // Unescaped, "healthy.primary" would match healthy-primary.
        var dotted = Workloads(await client.QueryAsync(IstioQueries.RequestsTotal(Ns, PromQl.AnyOf(["healthy.primary"])), at, CancellationToken.None));

        Assert.Contains(RealPrometheusFixture.Stable(RealPrometheusFixture.Healthy), all);
        Assert.Equal([RealPrometheusFixture.Flaky, RealPrometheusFixture.Healthy], named.Order());
        Assert.Empty(dotted);
    }

    [Fact]
    public async Task Counters_read_for_named_workloads_equal_the_namespace_wide_read_at_the_same_instant()
    {
        using var client = fixture.CreateClient();
        var at = DateTimeOffset.UtcNow.AddSeconds(-2);
        var (canary, stable) = (RealPrometheusFixture.Slow, RealPrometheusFixture.Stable(RealPrometheusFixture.Slow));
        var full = await NamespaceCounters.ReadAsync(client, Ns, at);
        var named = await NamespaceCounters.ReadAsync(client, Ns, at, () => new LabelFilter([canary, stable]));

        Assert.True(named.Covers(canary) && named.Covers(stable));
        Assert.False(named.Covers(RealPrometheusFixture.Healthy));
        var (e, a) = (full.Snapshot(canary, stable), named.Snapshot(canary, stable));
        Assert.NotEqual(0, a.Canary.Requests);
        Assert.Equal((e.Canary.Requests, e.Canary.Errors, e.Stable.Requests), (a.Canary.Requests, a.Canary.Errors, a.Stable.Requests));
        Assert.Equal(e.Canary.Buckets, a.Canary.Buckets);
    }
}
