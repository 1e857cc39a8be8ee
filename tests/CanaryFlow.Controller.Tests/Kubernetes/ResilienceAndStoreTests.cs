using System.Net;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Sandbox.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Durable rollout state in the Canary status (optimistic concurrency) and leader election on a Lease, on both servers.</summary>
public abstract class StoreAndLeaseContract(KubeServer server) : TwoServerTest(server)
{
    [Fact]
    public async Task A_status_write_raced_by_another_writer_gets_409_and_is_applied_again_to_a_fresh_read()
    {
        await Host.CreateCanaryAsync("podinfo", "podinfo");
        var attempts = 0;

        await Host.Get<CanaryStatusWriter>().UpdateAsync(Ns, "podinfo", (_, status) =>
        {
            // Another writer lands between this read and its write: the write carries a stale resourceVersion.
            if (++attempts == 1)
                Host.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch("""{"status":{"message":"other writer"}}""", V1Patch.PatchType.MergePatch),
                    CanaryResource.Group, CanaryResource.Version, Ns, CanaryResource.Plural, "podinfo").GetAwaiter().GetResult();
            status["canaryWeight"] = 30;
        }, default);

        Assert.Equal(2, attempts); // the first write was refused (409) and the change applied again
        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal(30, (int?)status["canaryWeight"]);
        Assert.Equal("other writer", (string?)status["message"]);
    }

    [Fact]
    public async Task Rollout_state_round_trips_through_the_Canary_status_with_optimistic_concurrency()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Get<IRolloutStore>();
        var state = new RolloutState
        {
            CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
            CurrentState = RolloutPhases.RollingBack, AppliedWeight = 30, DesiredWeight = 0, StepIndex = 2, FailedChecks = 5,
            Version = 1, LastReason = "error rate 7% > 1%", LastTransitionAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
            Plan = new RolloutPlan([5, 50, 100], TimeSpan.FromSeconds(30), 2, 1, 1, TimeSpan.FromMinutes(5), [50], true,
                new AnalysisSpec(10, [new MetricSpec("request-success-rate", Min: 99)], new ComparisonSpec())),
            LastEvidence = new AnalysisEvidence("error rate high", [new MetricResult("request-success-rate", 93, 99, null, "fail")]),
        };
        await store.SaveAsync(state, 0, default);

        var loaded = Assert.Single(await store.LoadAllAsync(default));
        Assert.Equal(RolloutPhases.RollingBack, loaded.CurrentState);
        Assert.Equal(30, loaded.AppliedWeight);
        Assert.Equal(1, loaded.Version);
        Assert.Equal([5, 50, 100], loaded.Plan.Steps);
        Assert.Equal(99, loaded.Plan.Analysis.Metrics[0].Min);
        Assert.Equal("fail", loaded.LastEvidence!.Metrics[0].Outcome);
        await Assert.ThrowsAsync<RolloutConcurrencyException>(() => store.SaveAsync(state, 0, default));

        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal("RollingBack", (string?)status["phase"]);
        Assert.Equal(5, (int?)status["failedChecks"]);
        Assert.Equal("r2", (string?)status["canaryRevision"]);
        Assert.Equal("r1", (string?)status["stableRevision"]);
        Assert.Equal("2026-01-02T03:04:05Z", (string?)status["lastTransitionTime"]);
        Assert.NotNull(status["trackedRevision"]); // the watcher's field survives the store's write
        var progressing = status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Progressing")!;
        Assert.Equal("True", (string?)progressing["status"]);
        Assert.Equal("RollingBack", (string?)progressing["reason"]);
    }

    [Fact]
    public async Task A_rollout_waiting_for_a_slot_shows_phase_Queued_and_loads_back_queued_with_nothing_pending()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Get<IRolloutStore>();
        var requested = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var state = new RolloutState
        {
            CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
            CurrentState = RolloutPhases.Queued, Sequence = 4, Version = 1, StartedAt = requested, LastTransitionAt = requested,
            LastReason = "rollout of r2 requested; queued: the controller runs its maximum of active rollouts",
            Plan = new RolloutPlan([10, 100], TimeSpan.FromSeconds(30), 2, 1, 1, TimeSpan.FromMinutes(5), [], true,
                new AnalysisSpec(10, [], null)),
        };
        await store.SaveAsync(state, 0, default); // the real server's CRD schema must accept the phase (an enum there)

        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal(RolloutPhases.Queued, (string?)status["phase"]);
        Assert.Equal(0, (int?)status["canaryWeight"]);
        var progressing = status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Progressing")!;
        Assert.Equal(("True", RolloutPhases.Queued), ((string?)progressing["status"], (string?)progressing["reason"]));

        var loaded = Assert.Single(await store.LoadAllAsync(default)); // a restart keeps its place and its wait
        Assert.Equal((RolloutPhases.Queued, 4L, requested, (string?)null), (loaded.CurrentState, loaded.Sequence, loaded.StartedAt, loaded.Pending));
    }

    [Fact]
    public async Task A_rollout_held_by_a_metrics_outage_shows_phase_Holding_and_loads_back_as_the_same_progressing_hold()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Get<IRolloutStore>();
        var down = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var state = new RolloutState
        {
            CorrelationId = RolloutIds.ForTarget(target), Target = target, Revision = "r2", StableRevision = "r1",
            CurrentState = RolloutPhases.Progressing, AppliedWeight = 20, DesiredWeight = 20, StepIndex = 1, Version = 1,
            LastReason = "holding at 20%: the metrics source does not answer", LastTransitionAt = down, MetricsDownSince = down,
            Plan = new RolloutPlan([10, 20, 100], TimeSpan.FromSeconds(30), 2, 1, 1, TimeSpan.FromMinutes(5), [], true,
                new AnalysisSpec(10, [], null, new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10)))),
        };
        await store.SaveAsync(state, 0, default); // the real server's CRD schema must accept the phase (an enum there)

        var status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal(RolloutPhases.Holding, (string?)status["phase"]);
        var holding = status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == RolloutPhases.Holding)!;
        Assert.Equal(("True", "MetricsSourceDown"), ((string?)holding["status"], (string?)holding["reason"]));
        Assert.Equal("True", (string?)status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Progressing")!["status"]);

        var loaded = Assert.Single(await store.LoadAllAsync(default)); // a restart resumes the hold, not a new phase
        Assert.Equal((RolloutPhases.Progressing, down), (loaded.CurrentState, loaded.MetricsDownSince));

        loaded.MetricsDownSince = null;
        loaded.Version = 2;
        await store.SaveAsync(loaded, 1, default);
        status = (await Host.GetCanaryAsync("podinfo"))["status"]!;
        Assert.Equal(RolloutPhases.Progressing, (string?)status["phase"]);
        Assert.Equal("False", (string?)status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == RolloutPhases.Holding)!["status"]);
    }

    [Fact]
    public async Task A_second_replica_takes_the_lease_when_the_leader_stops()
    {
        var election = new Dictionary<string, string?> { ["Kubernetes:LeaderElection"] = "true" };
        await using var a = await Host.StartBesideAsync(new(election) { ["Kubernetes:Identity"] = "replica-a" });
        await using var b = await Host.StartBesideAsync(new(election) { ["Kubernetes:Identity"] = "replica-b" });
        var leaderA = a.Services.GetServices<IHostedService>().OfType<LeaseLeadership>().Single();
        var leaderB = b.Services.GetServices<IHostedService>().OfType<LeaseLeadership>().Single();

        await leaderA.StartAsync(default);
        await leaderA.WaitForLeadershipAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        var termA = leaderA.LeadershipToken;
        await leaderB.StartAsync(default);
        Assert.False(leaderB.IsLeader);

        await leaderA.StopAsync(default);
        Assert.True(termA.IsCancellationRequested); // A stops acting at once
        var released = await Host.Client.CoordinationV1.ReadNamespacedLeaseAsync("canaryflow-leader", Ns);
        Assert.NotEqual("replica-a", released.Spec.HolderIdentity); // handed back on a graceful stop
        await leaderB.WaitForLeadershipAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        Assert.True(leaderB.IsLeader);
        Assert.False(leaderA.IsLeader);
        var lease = await Host.Client.CoordinationV1.ReadNamespacedLeaseAsync("canaryflow-leader", Ns);
        Assert.Equal("replica-b", lease.Spec.HolderIdentity);

        // The fence: the replica that lost the lease can no longer write; the new leader can.
        await Assert.ThrowsAsync<NotLeaderException>(() => a.CreateDeploymentAsync("from-a", "x:1"));
        await b.CreateDeploymentAsync("from-b", "x:1");
        await leaderB.StopAsync(default);
    }

    [Fact]
    public async Task A_standby_takes_the_lease_of_a_leader_that_died_once_it_expires()
    {
        var now = DateTime.UtcNow;
        await Host.Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "canaryflow-leader" },
            Spec = new V1LeaseSpec { HolderIdentity = "crashed-replica", LeaseDurationSeconds = 2, AcquireTime = now, RenewTime = now, LeaseTransitions = 3 },
        }, Ns);
        await using var b = await Host.StartBesideAsync(new() { ["Kubernetes:LeaderElection"] = "true", ["Kubernetes:Identity"] = "replica-b" });
        var leaderB = b.Services.GetServices<IHostedService>().OfType<LeaseLeadership>().Single();

        await leaderB.StartAsync(default);
        Assert.False(leaderB.IsLeader); // the crashed leader's lease is still valid
        await leaderB.WaitForLeadershipAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);

        var lease = await Host.Client.CoordinationV1.ReadNamespacedLeaseAsync("canaryflow-leader", Ns);
        Assert.Equal("replica-b", lease.Spec.HolderIdentity);
        Assert.Equal(4, lease.Spec.LeaseTransitions);
        await leaderB.StopAsync(default);
    }
}

public sealed class StoreAndLeaseOnSandbox() : StoreAndLeaseContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class StoreAndLeaseOnRealServer() : StoreAndLeaseContract(KubeServer.Real);

/// <summary>Faults injected by the sandbox (no real counterpart): retries, their bound, and a leader cut off from its Lease.</summary>
public sealed class InjectedFaultTests() : TwoServerTest(KubeServer.Sandbox)
{
    [Fact]
    public async Task Weight_changes_survive_injected_500s_429s_and_409s()
    {
        var target = await Host.InitializedAsync();
        var router = Host.Get<ITrafficRouter>();
        var injectedBefore = Host.Sandbox.Faults.Injected;
        Host.Sandbox.Faults.Add(new Fault(429, 1, Method: "GET", PathContains: "/virtualservices/", RetryAfterSeconds: 1));
        Host.Sandbox.Faults.Add(new Fault(500, 2, Method: "PATCH", PathContains: "/virtualservices/"));
        Host.Sandbox.Faults.Add(new Fault(409, 1, Method: "PATCH", PathContains: "/virtualservices/"));

        await router.SetWeightsAsync(target, 40, default);

        Assert.Equal(4, Host.Sandbox.Faults.Injected - injectedBefore);
        Assert.Equal(new TrafficWeights(60, 40), await router.GetWeightsAsync(target, default));
    }

    [Fact]
    public async Task Retries_are_bounded_a_dead_API_server_surfaces_as_an_error()
    {
        await Host.CreateDeploymentAsync("web", "web:1");
        var injectedBefore = Host.Sandbox.Faults.Injected;
        Host.Sandbox.Faults.Add(new Fault(503, 1000, Method: "GET"));

        var e = await Assert.ThrowsAsync<HttpOperationException>(() => Host.Client.AppsV1.ReadNamespacedDeploymentAsync("web", Ns));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.Response.StatusCode);
        Assert.Equal(5, Host.Sandbox.Faults.Injected - injectedBefore); // one try and MaxRetries (4) retries, no more
    }

    [Fact]
    public async Task A_leader_that_cannot_renew_within_the_renew_deadline_stops_writing_and_leads_again_once_it_can()
    {
        await using var a = await Host.StartBesideAsync(new() { ["Kubernetes:LeaderElection"] = "true", ["Kubernetes:Identity"] = "replica-a" });
        var leaderA = a.Services.GetServices<IHostedService>().OfType<LeaseLeadership>().Single();
        await leaderA.StartAsync(default);
        await leaderA.WaitForLeadershipAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        var term = leaderA.LeadershipToken;
        await a.CreateDeploymentAsync("while-leading", "x:1");

        // Every renewal answered 500: the term must end (the renew deadline passes) and the fence close. Waited on as "no
        // longer the leader", not as the end of the term taken above: on a loaded machine a renewal can miss its deadline
        // before the faults come, and the replica then leads again in a new term, which these faults must end too (CI saw it).
        Host.Sandbox.Faults.Add(new CanaryFlow.Sandbox.Kubernetes.Fault(500, 100_000, Method: "PUT", PathContains: "/leases/"));
        await KubeTestHost.EventuallyAsync(() => Task.FromResult(!leaderA.IsLeader), "the term ended");
        Assert.True(term.IsCancellationRequested);
        Assert.True(leaderA.LeadershipToken.IsCancellationRequested);
        await Assert.ThrowsAsync<NotLeaderException>(() => a.CreateDeploymentAsync("after-losing", "x:1"));

        // The API answers again: the Lease still names replica-a, so it leads again, in a new term.
        Host.Sandbox.Faults.Clear();
        await leaderA.WaitForLeadershipAsync(new CancellationTokenSource(TimeSpan.FromSeconds(15)).Token);
        Assert.False(leaderA.LeadershipToken.IsCancellationRequested);
        await a.CreateDeploymentAsync("leading-again", "x:1");
        await leaderA.StopAsync(default);
    }
}

/// <summary>Another writer undoing a weight change right after it lands (a stale controller, a webhook): the read-back catches it.</summary>
public sealed class WeightReadBackTests : SandboxTest
{
    [Fact]
    public async Task A_weight_change_undone_by_another_writer_is_detected_and_corrected()
    {
        var target = await Host.InitializedAsync();
        var store = Host.Sandbox.Store;
        var reverted = 0;
        void Revert(StoredEvent e)
        {
            if (e.Kind != ResourceKinds.VirtualServices || Interlocked.CompareExchange(ref reverted, 1, 0) != 0) return;
            // Put the canary weight back to 0, as a stale writer would.
            store.Patch(e.Kind, e.Namespace, (string)e.Object["metadata"]!["name"]!, current =>
            {
                current["spec"]!["http"]![0]!["route"]![0]!["weight"] = 100;
                current["spec"]!["http"]![0]!["route"]![1]!["weight"] = 0;
                return current;
            }, statusOnly: false);
        }
        store.Committed += Revert;
        try
        {
            await Host.Get<ITrafficRouter>().SetWeightsAsync(target, 50, default);
        }
        finally { store.Committed -= Revert; }

        Assert.Equal(1, reverted);
        Assert.Equal(new TrafficWeights(50, 50), await Host.Get<ITrafficRouter>().GetWeightsAsync(target, default));
    }
}
