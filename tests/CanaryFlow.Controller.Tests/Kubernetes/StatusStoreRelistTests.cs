using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Controller.Tests.Sharding;
using k8s;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The status store's periodic relist reads every Canary with its saga state: the loads that find it due while it
/// runs share it (each transition's hook consumer loads), and a sharded replica makes it seldom (issue 15).</summary>
public sealed class StatusStoreRelistOnSandbox() : TwoServerTest(KubeServer.Sandbox)
{
    [Fact]
    public async Task Loads_that_find_the_relist_due_share_one_listing_and_a_sharded_store_relists_every_five_minutes()
    {
        foreach (var n in new[] { "a", "b", "c" }) await Host.CreateCanaryAsync(n, $"{n}-app");
        var counting = new CanaryListCounter();
        var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Host.Sandbox.KubeconfigPath), counting);
        var options = Options.Create(new KubernetesOptions { Namespaces = [Host.Namespace] });
        var api = new CanaryApi(client, options);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var unsharded = new CanaryStatusRolloutStore(api, new CanaryStatusWriter(api), time, options);
        var sharded = new CanaryStatusRolloutStore(api, new CanaryStatusWriter(api), time, options, new HeldPartitions(12, 0, 1, 2, 3));

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => unsharded.LoadAsync(Guid.NewGuid(), default)));
        Assert.Equal(1, counting.CanaryLists); // not one per load that found it due
        await unsharded.LoadAllAsync(default);
        Assert.Equal(1, counting.CanaryLists);
        time.Advance(TimeSpan.FromSeconds(31));
        await unsharded.LoadAllAsync(default);
        Assert.Equal(2, counting.CanaryLists); // unsharded: every 30 s, as before

        await sharded.LoadAllAsync(default);
        Assert.Equal(3, counting.CanaryLists); // its first load lists
        time.Advance(TimeSpan.FromSeconds(31));
        await sharded.LoadAllAsync(default);
        Assert.Equal(3, counting.CanaryLists);
        time.Advance(TimeSpan.FromMinutes(5));
        await sharded.LoadAllAsync(default);
        Assert.Equal(4, counting.CanaryLists);
        await sharded.LoadAllAsync(default, fresh: true); // a partition gained: read afresh whenever asked
        Assert.Equal(5, counting.CanaryLists);
    }
}
