using System.Text.Json;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Tests.Kubernetes;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>
/// Issue 15: a sharded replica's watches ask the API server for its own partitions' objects only, by the partition label
/// it writes on its Canaries and their targets; another replica's Canaries and targets, the stable copies and the
/// namespace's other Deployments never reach it. On the sandbox and on the real API server (whose label selectors the
/// sandbox must match).
/// </summary>
public abstract class PartitionLabelledWatchContract(KubeServer server) : TwoServerTest(server)
{
    private const int Partitions = 4;

    private int PartitionOf(string target) => RolloutPartitions.OfTarget(new RolloutTarget(Ns, target), Partitions);

    /// <summary>A target name in another partition than <paramref name="name"/>'s: the partition comes from the namespace
    /// too (a fresh one per test), so it is picked per test.</summary>
    private string InAnotherPartitionThan(string name) =>
        Enumerable.Range(0, 50).Select(i => $"beta-{i}").First(n => PartitionOf(n) != PartitionOf(name));

    /// <summary>A replica's watcher holding <paramref name="held"/>, started.</summary>
    private async Task<DeploymentWatcher> StartWatcherAsync(HeldPartitions held)
    {
        var watcher = ActivatorUtilities.CreateInstance<DeploymentWatcher>(Host.Services, held, new CanaryStatusIndex());
        await watcher.StartAsync(default);
        return watcher;
    }

    private async Task<string?> LabelOfAsync(string deployment) =>
        (await Host.Client.AppsV1.ReadNamespacedDeploymentAsync(deployment, Ns)).Metadata.Labels is { } labels && labels.TryGetValue(PartitionLabel.Key, out var v) ? v : null;

    private async Task<string?> CanaryLabelAsync(string canary) => (string?)(await Host.GetCanaryAsync(canary))["metadata"]?["labels"]?[PartitionLabel.Key];

    private Task LabelCanaryAsync(string canary, string value) => Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
        new V1Patch(Metadata("labels", PartitionLabel.Key, value), V1Patch.PatchType.MergePatch), CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, canary);

    private Task AnnotateCanaryAsync(string canary, int i) => Host.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
        new V1Patch(Metadata("annotations", "touched", $"{i}"), V1Patch.PatchType.MergePatch), CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, canary);

    private Task AnnotateAsync(string deployment, int i) => Host.Client.AppsV1.PatchNamespacedDeploymentAsync(
        new V1Patch(Metadata("annotations", "touched", $"{i}"), V1Patch.PatchType.MergePatch), deployment, Ns);

    private static string Metadata(string field, string key, string value) =>
        new JsonObject { ["metadata"] = new JsonObject { [field] = new JsonObject { [key] = value } } }.ToJsonString();

    private Task RequestedAsync(string target, string revision) => KubeTestHost.EventuallyAsync(() => Task.FromResult(
        Host.Get<ITestHarness>().Published.Select<RolloutRequested>().Any(m => m.Context.Message.Target.Name == target && m.Context.Message.Revision == revision)),
        $"{target}'s release requested");

    private static bool Tracked(JsonObject canary) => canary["status"]?[DeploymentWatcher.TrackedRevisionField] is not null;

    [Fact]
    public async Task A_sharded_replica_labels_its_own_targets_and_receives_no_Deployment_event_it_has_no_use_for()
    {
        const string alpha = "alpha";
        var other = InAnotherPartitionThan(alpha);
        var (a, b) = (PartitionOf(alpha), PartitionOf(other));
        await Host.CreateDeploymentAsync(alpha, "podinfo:1");
        await Host.CreateDeploymentAsync(other, "podinfo:1");
        await Host.CreateDeploymentAsync("unrelated", "podinfo:1"); // no Canary names it
        var held = new HeldPartitions(Partitions, a);
        var watcher = await StartWatcherAsync(held);
        try
        {
            await Host.CreateCanaryAsync(alpha, alpha);
            await Host.CreateCanaryAsync(other, other);
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync(alpha)), "alpha initialised by its owner", seconds: 60);
            Assert.Equal(PartitionLabel.Value(a, Partitions), await LabelOfAsync(alpha));
            Assert.Null(await LabelOfAsync($"{alpha}-primary")); // the stable copy does not carry its target's label
            Assert.Null(await LabelOfAsync(other)); // another replica's target: not this one's to label
            Assert.False(Tracked(await Host.GetCanaryAsync(other)));

            // Changes to another replica's target, to a stable copy and to a Deployment no Canary names: none reaches
            // this replica. A release of its own target, made after them, does (events come in order).
            for (var i = 0; i < 5; i++)
            {
                await AnnotateAsync(other, i);
                await AnnotateAsync($"{alpha}-primary", i);
                await AnnotateAsync("unrelated", i);
            }
            await Host.SetImageAsync(alpha, "podinfo:2");
            await RequestedAsync(alpha, await Host.RevisionAsync(alpha));
            Assert.True(watcher.Tally.Deployments > 0, "no Deployment event reached the watch");
            Assert.Equal(0, watcher.Tally.DeploymentsDropped);

            // A partition gained: its target is labelled, its Canary initialised and its release requested.
            await held.Set(a, b);
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync(other)), "the other Canary initialised once held", seconds: 60);
            Assert.Equal(PartitionLabel.Value(b, Partitions), await LabelOfAsync(other));
            await Host.SetImageAsync(other, "podinfo:2");
            await RequestedAsync(other, await Host.RevisionAsync(other));
            Assert.Equal(0, watcher.Tally.DeploymentsDropped);
        }
        finally { await watcher.StopAsync(default); }
    }

    [Fact]
    public async Task A_sharded_replica_labels_its_own_Canaries_and_receives_no_event_of_another_replicas_Canary()
    {
        const string alpha = "alpha";
        var other = InAnotherPartitionThan(alpha);
        var (a, b) = (PartitionOf(alpha), PartitionOf(other));
        await Host.CreateDeploymentAsync(alpha, "podinfo:1");
        await Host.CreateDeploymentAsync(other, "podinfo:1");
        await Host.CreateCanaryAsync(other, other);
        await LabelCanaryAsync(other, PartitionLabel.Value(b, Partitions)); // as its owner, another replica, labels it
        var watcher = await StartWatcherAsync(new HeldPartitions(Partitions, a));
        try
        {
            await Host.CreateCanaryAsync(alpha, alpha);
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync(alpha)), "alpha initialised by its owner", seconds: 60);
            Assert.Equal(PartitionLabel.Value(a, Partitions), await CanaryLabelAsync(alpha));

            // 15 changes to the other replica's Canary, then one to this replica's: only the last reaches it (a watch's
            // events come in order, so the others would have come first).
            for (var i = 0; i < 15; i++) await AnnotateCanaryAsync(other, i);
            var kept = watcher.Tally.Canaries - watcher.Tally.CanariesDropped;
            await AnnotateCanaryAsync(alpha, 1);
            await KubeTestHost.EventuallyAsync(() => Task.FromResult(watcher.Tally.Canaries - watcher.Tally.CanariesDropped > kept), "alpha's change received");
            Assert.Equal(0, watcher.Tally.CanariesDropped);
            Assert.False(Tracked(await Host.GetCanaryAsync(other)));
            Assert.Equal(PartitionLabel.Value(b, Partitions), await CanaryLabelAsync(other)); // left as its owner wrote it
        }
        finally { await watcher.StopAsync(default); }
    }

    [Fact]
    public async Task A_Canary_relabelled_by_hand_for_another_partition_or_count_is_labelled_again_by_its_owner_and_not_taken_as_deleted()
    {
        await Host.CreateDeploymentAsync("alpha", "podinfo:1");
        var a = PartitionOf("alpha");
        var mine = PartitionLabel.Value(a, Partitions);
        var watcher = await StartWatcherAsync(new HeldPartitions(Partitions, a));
        try
        {
            await Host.CreateCanaryAsync("alpha", "alpha");
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync("alpha")), "alpha initialised", seconds: 60);
            await KubeTestHost.EventuallyAsync(async () => await CanaryLabelAsync("alpha") == mine, "alpha labelled");

            // Another partition's value takes the Canary out of this replica's watch, as a deletion would.
            await LabelCanaryAsync("alpha", PartitionLabel.Value((a + 1) % Partitions, Partitions));
            await KubeTestHost.EventuallyAsync(async () => await CanaryLabelAsync("alpha") == mine, "alpha labelled again after leaving the watch");
            // A value of another partition count (Sharding:Partitions changed) leaves it in the watch, stale.
            await LabelCanaryAsync("alpha", PartitionLabel.Value(a, 2 * Partitions));
            await KubeTestHost.EventuallyAsync(async () => await CanaryLabelAsync("alpha") == mine, "alpha labelled again for this partition count");

            Assert.DoesNotContain(Host.Get<ITestHarness>().Published.Select<CanaryDeleted>(), m => m.Context.Message.Target.Name == "alpha");
            await Host.SetImageAsync("alpha", "podinfo:2"); // still governed
            await RequestedAsync("alpha", await Host.RevisionAsync("alpha"));
        }
        finally { await watcher.StopAsync(default); }
    }

    [Fact]
    public async Task A_Canary_carrying_another_partitions_label_has_it_taken_off_by_that_partitions_holder_for_its_owner()
    {
        // A label copied with a manifest from another Canary: only the holder of the partition it names would see the
        // Canary, and it is not the owner.
        const string alpha = "alpha";
        var other = InAnotherPartitionThan(alpha);
        var (a, b) = (PartitionOf(alpha), PartitionOf(other));
        await Host.CreateDeploymentAsync(other, "podinfo:1");
        await Host.CreateCanaryAsync(other, other);
        await LabelCanaryAsync(other, PartitionLabel.Value(a, Partitions));
        var watcher = await StartWatcherAsync(new HeldPartitions(Partitions, a));
        try
        {
            await KubeTestHost.EventuallyAsync(async () => await CanaryLabelAsync(other) is null, "the misplaced label taken off");
            Assert.False(Tracked(await Host.GetCanaryAsync(other))); // still not this replica's to act on
        }
        finally { await watcher.StopAsync(default); }
        // Its owner now sees it, labels it and initialises it.
        var owner = await StartWatcherAsync(new HeldPartitions(Partitions, b));
        try
        {
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync(other)), "initialised by its owner", seconds: 60);
            Assert.Equal(PartitionLabel.Value(b, Partitions), await CanaryLabelAsync(other));
        }
        finally { await owner.StopAsync(default); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_deleted_Canarys_target_loses_its_partition_label_whether_it_is_given_back_or_kept(bool revertOnDeletion)
    {
        await Host.CreateDeploymentAsync("alpha", "podinfo:1");
        var watcher = await StartWatcherAsync(new HeldPartitions(Partitions, PartitionOf("alpha")));
        try
        {
            await Host.CreateCanaryAsync("alpha", "alpha", new JsonObject { ["revertOnDeletion"] = revertOnDeletion });
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync("alpha")), "alpha initialised", seconds: 60);
            await KubeTestHost.EventuallyAsync(async () => await LabelOfAsync("alpha") is not null, "alpha labelled");

            await Host.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "alpha");

            await KubeTestHost.EventuallyAsync(async () => (await Host.Client.CustomObjects.ListNamespacedCustomObjectAsync(CanaryResource.Group,
                CanaryResource.Version, Ns, CanaryResource.Plural) as JsonElement?) is { } list && list.GetProperty("items").GetArrayLength() == 0, "the Canary is gone", seconds: 60);
            Assert.Null(await LabelOfAsync("alpha")); // no replica's watch needs a Deployment no Canary governs
        }
        finally { await watcher.StopAsync(default); }
    }

    [Fact]
    public async Task A_target_labelled_for_another_partition_count_is_labelled_again_by_its_owner()
    {
        // A change of Sharding:Partitions makes every label stale: no selector of the new count matches "0-of-2".
        await Host.CreateDeploymentAsync("alpha", "podinfo:1");
        await Host.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(Metadata("labels", PartitionLabel.Key, "0-of-2"), V1Patch.PatchType.MergePatch), "alpha", Ns);
        var watcher = await StartWatcherAsync(new HeldPartitions(Partitions, PartitionOf("alpha")));
        try
        {
            await Host.CreateCanaryAsync("alpha", "alpha");
            await KubeTestHost.EventuallyAsync(async () => Tracked(await Host.GetCanaryAsync("alpha")), "alpha initialised", seconds: 60);
            await KubeTestHost.EventuallyAsync(async () => await LabelOfAsync("alpha") == PartitionLabel.Value(PartitionOf("alpha"), Partitions), "alpha labelled again");
            await Host.SetImageAsync("alpha", "podinfo:2");
            await RequestedAsync("alpha", await Host.RevisionAsync("alpha"));
        }
        finally { await watcher.StopAsync(default); }
    }
}

public sealed class PartitionLabelledWatchOnSandbox() : PartitionLabelledWatchContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class PartitionLabelledWatchOnRealServer() : PartitionLabelledWatchContract(KubeServer.Real);
