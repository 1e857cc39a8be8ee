using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Rollouts;
using k8s;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The status store's periodic relist (every 30 s, to see other writers) runs once however many callers find it
/// due while it runs: the ticker and every transition's hook lookup ask, and each used to list every Canary with its
/// state on its own until the first relist finished (at 1,000 Canaries, pages of 1.8 MB on the large-object heap).</summary>
public sealed class StatusStoreRelistTests : SandboxTest
{
    [Fact]
    public async Task Callers_that_find_the_relist_due_together_share_one_listing_and_all_see_its_states()
    {
        var target = await Host.InitializedAsync();
        var state = new RolloutState
        {
            CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
            CurrentState = RolloutPhases.Progressing, AppliedWeight = 10, DesiredWeight = 10, Version = 1,
        };
        await Host.Get<Seams.IRolloutStore>().SaveAsync(state, 0, default); // written by another replica, as far as the store below knows
        var counting = new CanaryListCounter();
        var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Host.Sandbox.KubeconfigPath), counting);
        var options = Options.Create(new KubernetesOptions { Namespaces = [Host.Namespace] });
        var api = new CanaryApi(client, options);
        var store = new CanaryStatusRolloutStore(api, new CanaryStatusWriter(api), TimeProvider.System, options);

        var loaded = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => i % 2 == 0
            ? store.LoadAllAsync(default)
            : store.LoadAsync(state.CorrelationId, default).ContinueWith(t => (IReadOnlyList<RolloutState>)[t.Result!], TaskScheduler.Default)));

        Assert.Equal(1, counting.CanaryLists); // not one per caller
        Assert.All(loaded, states => Assert.Equal((state.CorrelationId, 10), (Assert.Single(states).CorrelationId, Assert.Single(states).AppliedWeight)));
        await store.LoadAllAsync(default);
        Assert.Equal(1, counting.CanaryLists); // within the 30 s: served from the snapshots
        await store.LoadAllAsync(default, fresh: true);
        Assert.Equal(2, counting.CanaryLists); // a reload always lists
    }
}
