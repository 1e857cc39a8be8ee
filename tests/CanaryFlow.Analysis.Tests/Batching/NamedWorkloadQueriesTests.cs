using System.Globalization;
using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Analysis.Verdicts;

namespace CanaryFlow.Analysis.Tests.Batching;

/// <summary>The counter reads name the wanted workloads in the query itself (up to a bound), so Prometheus reads only their
/// series; a larger set falls back to parsing them out of the namespace-wide answer.</summary>
public sealed class NamedWorkloadQueriesTests
{
    private static readonly string[] Les = [.. new[] { 1, 10, 100 }.Select(le => le.ToString(CultureInfo.InvariantCulture)), "+Inf"];

    [Fact]
    public async Task A_read_for_a_few_workloads_names_them_in_all_three_queries_and_covers_only_them()
    {
        var client = new NamespaceCounterBodies(40, Les);
        var wanted = new LabelFilter(["svc-00003", "svc-00003-primary"]);
        var counters = await NamespaceCounters.ReadAsync(client, "shop", DateTimeOffset.UnixEpoch, () => wanted);

        Assert.Equal(3, client.Sent.Count);
        Assert.All(client.Sent, q => Assert.Contains("destination_workload=~\"svc-00003|svc-00003-primary\"", q));
        Assert.True(counters.Covers("svc-00003") && counters.Covers("svc-00003-primary"));
        Assert.False(counters.Covers("svc-00004")); // not known to be zero: its check reads again
    }

    [Fact]
    public async Task A_read_for_more_workloads_than_a_query_may_name_reads_the_namespace_and_keeps_the_wanted_ones()
    {
        var client = new NamespaceCounterBodies(40, Les);
        var many = new LabelFilter(Enumerable.Range(0, NamespaceCounters.MaxNamedWorkloads + 1).Select(NamespaceCounterBodies.Name));
        var counters = await NamespaceCounters.ReadAsync(client, "shop", DateTimeOffset.UnixEpoch, () => many);

        Assert.All(client.Sent, q => Assert.DoesNotContain("destination_workload=~", q));
        Assert.True(counters.Covers(NamespaceCounterBodies.Name(39)));
        Assert.False(counters.Covers(NamespaceCounterBodies.Name(NamespaceCounters.MaxNamedWorkloads + 1)));
    }

    [Theory]
    [InlineData("checkout", "checkout")]
    [InlineData("api.v2-primary", @"api\.v2-primary")]
    [InlineData("a+b", @"a\+b")]
    public void A_named_workload_is_matched_literally(string workload, string pattern) =>
        Assert.Equal(pattern, PromQl.AnyOf([workload]));

    [Fact]
    public void The_same_set_makes_the_same_query_text_whatever_its_order() =>
        Assert.Equal(IstioQueries.RequestsTotal("shop", PromQl.AnyOf(["b", "a"])), IstioQueries.RequestsTotal("shop", PromQl.AnyOf(["a", "b"])));
}
