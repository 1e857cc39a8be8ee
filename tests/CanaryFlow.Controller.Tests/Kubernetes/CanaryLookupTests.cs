using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Finding the Canary of a target (every transition does, several times): misses at once share one listing
/// (read in pages), and the Canary comes without its saga state (issue 15: a replica's start used to list and parse every
/// Canary once per miss). On the sandbox and on the real API server.</summary>
public abstract class CanaryLookupContract(KubeServer server) : TwoServerTest(server)
{
    [Fact]
    public async Task Rollouts_that_miss_together_share_one_listing_and_get_their_Canary_without_its_saga_state()
    {
        foreach (var n in new[] { "a", "b", "c" }) await Host.CreateCanaryAsync(n, $"{n}-app");
        var status = new JsonObject { ["status"] = new JsonObject { ["phase"] = "Progressing", [CanaryStatusRolloutStore.StateField] = """{"Version":3}""" } };
        await Host.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(status.ToJsonString(), V1Patch.PatchType.MergePatch),
            CanaryResource.Group, CanaryResource.Version, Host.Namespace, CanaryResource.Plural, "a");
        var counting = new CanaryListCounter();
        var kubeconfig = Server == KubeServer.Sandbox ? Host.Sandbox.KubeconfigPath : Host.Real.KubeconfigPath;
        var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig), counting);
        var api = new CanaryApi(client, Options.Create(new KubernetesOptions { Namespaces = [Host.Namespace] }));

        var targets = Enumerable.Range(0, 30).Select(i => new RolloutTarget(Host.Namespace, $"{"abc"[i % 3]}-app")).ToList();
        var found = await Task.WhenAll(targets.Select(t => api.FindForTargetAsync(t, default)));

        Assert.Equal(targets.Select(t => t.Name), found.Select(c => c.TargetName));
        Assert.Equal(1, counting.CanaryLists); // not one per miss
        var a = found.First(c => c.Name == "a");
        Assert.Equal("Progressing", a.StatusString("phase"));
        Assert.Null(a.Status![CanaryStatusRolloutStore.StateField]);
        await Assert.ThrowsAsync<CanaryNotFoundException>(() => api.FindForTargetAsync(new RolloutTarget(Host.Namespace, "nobody"), default));
        await Host.CreateCanaryAsync("d", "d-app"); // created after every listing so far: a miss lists again and finds it
        Assert.Equal("d", (await api.FindForTargetAsync(new RolloutTarget(Host.Namespace, "d-app"), default)).Name);
    }
}

public sealed class CanaryLookupOnSandbox() : CanaryLookupContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class CanaryLookupOnRealServer() : CanaryLookupContract(KubeServer.Real);
