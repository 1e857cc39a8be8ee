using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Sandbox.Kubernetes;
using k8s;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Benchmarks.Scale;

/// <summary>
/// Issue 15, memory of one sharded replica's status store, measured in process (no timing: bytes, so it needs no
/// benchmark lock): N Canaries, each with a stored rollout state, in the sandbox API; the managed heap a
/// <see cref="CanaryStatusRolloutStore"/> retains after a fresh load when it owns every partition (an unsharded
/// replica, or the old sharded one) and when it owns a third of them (one of 3 replicas), and what the cluster-wide
/// <see cref="CanaryStatusIndex"/> of all N costs. Also the managed allocations of one fresh load (what a list costs), and
/// the Canaries and bytes the API server sent for it. Each Canary carries its partition's label, as its owner writes it.
/// </summary>
public static class ReplicaMemoryProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = ControllerSettings.IntArg(args, "--rollouts", 1000);
        const int partitions = 12;
        const string ns = "scale";
        await using var sandbox = await SandboxKubernetesServer.StartAsync();
        var services = BenchService.Many(ns, count, 0.2, TimeSpan.FromSeconds(10), seed: 9);
        foreach (var s in services)
        {
            var manifest = s.CanaryManifest();
            manifest["metadata"]!["labels"] = new JsonObject
            {
                [PartitionLabel.Key] = PartitionLabel.Value(RolloutPartitions.OfTarget(new RolloutTarget(ns, s.Name), partitions), partitions),
            };
            sandbox.Store.Create(ResourceKinds.Canaries, ns, manifest);
            var canary = sandbox.Store.Get(ResourceKinds.Canaries, ns, s.Name);
            var status = new JsonObject();
            var state = State(new RolloutTarget(ns, s.Name), s);
            CanaryStatusView.Apply(status, state, 1);
            status[CanaryStatusRolloutStore.StateField] = JsonSerializer.Serialize(state);
            status[CanaryStatusRolloutStore.VersionField] = state.Version;
            canary["status"] = status;
            sandbox.Store.Update(ResourceKinds.Canaries, ns, s.Name, canary, statusOnly: true);
        }
        var sent = new CanaryListCounter(recordItems: false);
        var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(sandbox.KubeconfigPath), sent);
        var options = Options.Create(new KubernetesOptions { Namespaces = [ns] });
        var api = new CanaryApi(client, options);
        var stateBytes = JsonSerializer.Serialize(State(new RolloutTarget(ns, "svc-0000"), services[0])).Length;
        Console.WriteLine($"replica memory: {count} Canaries, {partitions} partitions, a stored state of {stateBytes} bytes of JSON each; " +
                          $"load average {ControllerSettings.LoadAverage():F1}");

        // Once first, so that what every list costs once (JIT, serializer metadata, the client) is not counted below.
        await LoadAsync(api, options, partitions, [0]);
        var kept = new List<object>();
        foreach (var (what, held) in new[] { ("owns every partition (unsharded, or before the fix)", Enumerable.Range(0, partitions).ToArray()),
                     ("owns 4 of 12 partitions (one of 3 replicas)", [0, 1, 2, 3]) })
        {
            var before = Retained();
            var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
            var (lists0, bytes0) = (sent.CanaryLists, sent.Bytes);
            var store = await LoadAsync(api, options, partitions, held);
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated0;
            var (lists, bytes) = (sent.CanaryLists - lists0, sent.Bytes - bytes0);
            var retained = Retained() - before;
            kept.Add(store);
            Console.WriteLine($"  store that {what}: {store.SnapshotCount} snapshots, {retained / 1024.0 / 1024:F1} MiB retained " +
                              $"({retained / (double)Math.Max(1, store.SnapshotCount) / 1024:F1} KiB a rollout); one fresh load allocated {allocated / 1024.0 / 1024:F0} MiB " +
                              $"and was sent {bytes / 1024.0 / 1024:F1} MiB in {lists} list pages");
        }

        var indexBefore = Retained();
        var index = Index(sandbox.Store, ns);
        var indexRetained = Retained() - indexBefore;
        Console.WriteLine($"  cluster-wide index of all {index.Count}: {indexRetained / 1024.0 / 1024:F2} MiB ({indexRetained / (double)Math.Max(1, index.Count):F0} bytes a Canary)");
        GC.KeepAlive(index);
        GC.KeepAlive(kept);
        EventCosts(sandbox.Store.Get(ResourceKinds.Canaries, ns, services[0].Name), services[0], index);
        return 0;
    }

    /// <summary>What one watch event costs a replica in allocated bytes (every replica gets every Canary's and Deployment's
    /// events): the client's own parse of the line, then the watch's handling, before (every object parsed in full) and
    /// now (another replica's object read for name, target and status summary only; a kept one copied without its state).</summary>
    private static void EventCosts(JsonObject canary, BenchService service, CanaryStatusIndex index)
    {
        var deployment = service.DeploymentManifest();
        deployment["status"] = JsonNode.Parse("""{"replicas":1,"readyReplicas":1,"availableReplicas":1,"updatedReplicas":1,"observedGeneration":3}""");
        var canaryLine = new JsonObject { ["type"] = "MODIFIED", ["object"] = canary.DeepClone() }.ToJsonString();
        var deploymentLine = new JsonObject { ["type"] = "MODIFIED", ["object"] = deployment }.ToJsonString();
        static JsonElement ClientParse(string line) => JsonSerializer.Deserialize<JsonElement>(line).GetProperty("object"); // as the client's watch: a line, an element
        var (c, d) = (ClientParse(canaryLine), ClientParse(deploymentLine));
        Console.WriteLine($"  one watch event (a Canary of {canaryLine.Length:N0} bytes with its state, a Deployment of {deploymentLine.Length:N0}), bytes allocated:");
        Console.WriteLine($"    the client's parse of the line: Canary {PerCall(() => ClientParse(canaryLine)):N0}, Deployment {PerCall(() => ClientParse(deploymentLine)):N0}");
        Console.WriteLine($"    before (parsed in full whoever owns it): Canary {PerCall(() => { var r = CanaryResource.FromObject(c); r.Status?.Remove(CanaryStatusRolloutStore.StateField); return r; }):N0}, " +
                          $"Deployment {PerCall(() => KubernetesJson.Deserialize<k8s.Models.V1Deployment>(d.GetRawText())):N0}");
        Console.WriteLine($"    now, another replica's: Canary {PerCall(() => { var seen = new Sighting(c); index.Observe("scale", seen.Name, seen.TargetName, seen.Status); return null; }):N0} " +
                          $"(its status summary into the index included), Deployment {PerCall(() => new Sighting(d).Name):N0}");
        Console.WriteLine($"    now, a kept one: Canary {PerCall(() => new Sighting(c).ToCanary()):N0}, Deployment {PerCall(() => WatchedDeployment.From(new Sighting(d), new KubernetesOptions().TrackLabel)):N0}");
    }

    private static long PerCall(Func<object?> action)
    {
        object? last = null;
        for (var i = 0; i < 50; i++) last = action(); // JIT and caches first
        const int n = 2000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++) last = action();
        GC.KeepAlive(last);
        return (GC.GetAllocatedBytesForCurrentThread() - before) / n;
    }

    private static async Task<CanaryStatusRolloutStore> LoadAsync(CanaryApi api, IOptions<KubernetesOptions> options, int partitions, int[] held)
    {
        var store = new CanaryStatusRolloutStore(api, new CanaryStatusWriter(api), TimeProvider.System, options, new Held(partitions, held));
        await store.LoadAllAsync(CancellationToken.None, fresh: true);
        return store;
    }

    /// <summary>Not async: the listed objects must not outlive it in a state machine's fields.</summary>
    private static CanaryStatusIndex Index(ObjectStore store, string ns)
    {
        var index = new CanaryStatusIndex();
        foreach (var item in store.List(ResourceKinds.Canaries, ns, LabelSelector.Parse(null)).Items)
        {
            item["status"]!.AsObject().Remove(CanaryStatusRolloutStore.StateField);
            index.Observe(CanaryResource.FromObject(item));
        }
        return index;
    }

    private static long Retained()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>A rollout in the middle of its steps, with its last check's evidence, as the engine stores it.</summary>
    private static RolloutState State(RolloutTarget target, BenchService s) => new()
    {
        CorrelationId = RolloutIds.ForTarget(target), RolloutId = RolloutIds.ForRevision(target, "r2"), Target = target,
        Revision = "5e717dc44b", StableRevision = "781e0fd662", Image = s.NewImage, RequestedBy = "watch:deployment",
        CurrentState = RolloutPhases.Progressing, AppliedWeight = 50, DesiredWeight = 50, StepIndex = 1, Version = 7,
        LastReason = "analysis passed at 50%: request-success-rate 99.8 >= 95", LastTransitionAt = DateTimeOffset.UtcNow,
        Plan = new RolloutPlan(s.Steps, s.Interval, s.FailureLimit, 0, 0, TimeSpan.FromMinutes(10),
            [], false, new AnalysisSpec(5, [new MetricSpec("request-success-rate", Min: 95)])),
    };

    private sealed class Held(int partitions, int[] held) : IPartitionOwnership
    {
        private readonly Channel<PartitionChange> _none = Channel.CreateUnbounded<PartitionChange>();
        public int Partitions => partitions;
        public bool Owns(int partition) => held.Contains(partition);
        public CancellationToken Changed => new CancellationTokenSource().Token;
        public ChannelReader<PartitionChange> Changes => _none.Reader;
        public Task GiveUpAsync(int partition) => Task.CompletedTask;
    }
}
