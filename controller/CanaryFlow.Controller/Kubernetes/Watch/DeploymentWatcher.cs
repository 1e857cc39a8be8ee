using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Watch;

/// <summary>
/// Watches the Canaries and the Deployments of each namespace (local caches, see <see cref="ResilientWatch{T}"/>),
/// only while this replica leads. A new pod-template revision of a target publishes one <see cref="RolloutRequested"/>;
/// scale and status changes do not. A Canary seen for the first time is initialised (stable copy and routing),
/// without a rollout, and gets CanaryFlow's finalizer; a deleted one is handed to <see cref="CanaryDeletion"/>, and its
/// target's changes start no rollout. An invalid spec is reported as a status condition and an Event, never a crash.
/// Sharded replicas (issue 15) ask the API server for their own partitions' objects only, by the partition label each
/// owner writes on its Canaries and their targets (<see cref="Hosting.Sharding.PartitionLabel"/>). Their Canary watch
/// selects "not another replica's": the held partitions' Canaries and those no owner has labelled yet, which every replica
/// sees until the owner, decided at event time, labels them; so each event is acted on by its owner once. Their Deployment
/// watch selects the held partitions' targets: another replica's targets, the stable copies and the namespace's other
/// Deployments never reach it. Both watches start again (list, then watch) with new selectors when the partitions held
/// change. The caches hold only owned partitions' Canaries and Deployments; a lost partition's entries are dropped, and a
/// gained one's come with the new watches' lists and are looked at afresh. One replica alone watches everything, and
/// every Canary's status feeds the compact cluster-wide view (<see cref="CanaryStatusIndex"/>; sharded replicas list
/// the Canaries for that view when asked, <see cref="ClusterCanaryStatuses"/>). Both kinds are read as the client parsed
/// them (<see cref="Sighting"/>): an object not kept costs its name and target, and only the kept partitions' objects are
/// parsed further: a Deployment into what the watch reads of it (<see cref="WatchedDeployment"/>), a Canary into its model.
/// One namespace's watch is in parts: this file (its caches, the watches and ownership changes), .Canaries, .Deployments,
/// .Initialization and .PartitionLabels.
/// </summary>
public sealed partial class DeploymentWatcher : BackgroundService
{
    public const string TrackedRevisionField = "trackedRevision";

    /// <summary>The events this watcher received (see <see cref="WatchTally"/>).</summary>
    public WatchTally Tally { get; } = new();
    private readonly IKubernetes client;
    private readonly CanaryApi api;
    private readonly CanaryInitializer initializer;
    private readonly CanaryStatusWriter statusWriter;
    private readonly CanaryDeletion deletion;
    private readonly Templates.CanaryPlanResolver plans;
    private readonly IBus bus;
    private readonly ILeadership leadership;
    private readonly Hosting.Sharding.IPartitionOwnership ownership;
    private readonly CanaryStatusIndex index;
    private readonly Deployments deployments;
    private readonly IOptions<KubernetesOptions> options;
    private readonly TimeProvider time;
    private readonly ILogger _logger;

    public DeploymentWatcher(IKubernetes client, CanaryApi api, Deployments deployments, CanaryInitializer initializer, CanaryStatusWriter statusWriter,
        CanaryDeletion deletion, Templates.CanaryPlanResolver plans, IBus bus, ILeadership leadership, IOptions<KubernetesOptions> options, TimeProvider time,
        ILogger<DeploymentWatcher> logger, Hosting.Sharding.IPartitionOwnership? ownership = null, CanaryStatusIndex? index = null)
    {
        this.index = index ?? new CanaryStatusIndex();
        this.deployments = deployments;
        (this.client, this.api, this.initializer, this.statusWriter, this.deletion, this.plans) = (client, api, initializer, statusWriter, deletion, plans);
        this.ownership = ownership ?? new Hosting.Sharding.WholeOwnership();
        (this.bus, this.leadership, this.options, this.time, _logger) = (bus, leadership, options, time, logger);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await leadership.WaitForLeadershipAsync(stoppingToken);
                // A change of the partitions held does not end the term: each namespace watch follows it (see NamespaceWatch).
                using var term = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, leadership.LeadershipToken);
                await Task.WhenAll(options.Value.Namespaces.Select(ns => new NamespaceWatch(this, ns).RunAsync(term.Token)));
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { } // leadership changed: again
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One namespace: its caches and the handlers both watches feed (one at a time).</summary>
    private sealed partial class NamespaceWatch(DeploymentWatcher owner, string ns)
    {
        private readonly SemaphoreSlim _serial = new(1, 1);
        private readonly Dictionary<string, CanaryResource> _canaries = []; // owned partitions' only, without their saga state
        private readonly Dictionary<string, string> _canaryOf = []; // target Deployment -> its Canary (owned partitions')
        private readonly Dictionary<string, WatchedDeployment> _deployments = []; // owned partitions' targets only, what is read of them
        private HashSet<int> _owned = [];
        // Sharded: cancelled when _owned changes, so that the Deployment watch starts again with the new partitions' selector.
        private CancellationTokenSource _ownedChanged = new();
        // Sharded: the Deployment watch has listed the targets of the partitions in _owned, so a target missing from the
        // cache is one without its partition label (or a label of another partition count): the owner writes it.
        private bool _targetsListed;
        private readonly Dictionary<string, DateTimeOffset> _labelledAt = []; // target -> when its label was last written
        private readonly Dictionary<string, string> _revisions = [];
        private readonly Dictionary<string, long> _reportedInvalid = [];
        private readonly HashSet<string> _initializing = [];
        private RolloutRequests _requests = null!;
        private readonly HashSet<string> _finalizing = [];
        // Initialisations that failed: how many times in a row (the retry's back-off), and which have a retry pending.
        private readonly Dictionary<string, int> _initFailures = [];
        private readonly HashSet<string> _initRetryPending = [];
        private CancellationToken _ct;

        /// <summary>Watches until <paramref name="ct"/> is cancelled, then waits for the work it started beside (an
        /// initialisation cut short): a watch started next must not run the same Canary's work alongside it.</summary>
        public async Task RunAsync(CancellationToken ct)
        {
            try { await WatchAsync(ct); }
            finally
            {
                Task[] beside;
                lock (_beside) beside = [.. _beside];
                await Task.WhenAll(beside).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        private readonly List<Task> _beside = [];

        private Task WatchAsync(CancellationToken ct)
        {
            _ct = ct;
            _requests = new RolloutRequests(ns, owner.bus, owner.time, owner.statusWriter, StillCurrentAsync, ForgetRequestAsync, owner._logger, ct);
            _owned = OwnedNow();
            return Task.WhenAll(WatchCanariesAsync(ct), WatchDeploymentsAsync(ct), FollowOwnershipAsync(ct), RelookAsync(ct));
        }

        private bool Sharded => owner.ownership.Partitions > 1;

        /// <summary>Every Canary of the namespace, or sharded, the held partitions' Canaries and those no owner has labelled
        /// yet (<see cref="Hosting.Sharding.PartitionLabel.NotOthers"/>): another replica's Canary, once labelled, never
        /// reaches this one. After a change of the partitions held, the new watch's list brings the gained partitions'
        /// Canaries, and only those it brings anew (or changed) are looked at.</summary>
        private Task WatchCanariesAsync(CancellationToken ct)
        {
            if (!Sharded)
                return CanaryWatch(null).RunAsync(items => Serial(() => OnCanaryListAsync(items)), (t, c) => Serial(() => OnCanaryAsync(t, c)), ct);
            return PerHeldSetAsync((held, restarted, changed, run) =>
            {
                var lists = 0;
                return CanaryWatch(Hosting.Sharding.PartitionLabel.NotOthers(held, owner.ownership.Partitions)).RunAsync(
                    items => Serial(() => changed.IsCancellationRequested ? Task.CompletedTask : OnCanaryListAsync(items, onlyNew: restarted && lists++ == 0)),
                    (t, c) => Serial(() => OnCanaryAsync(t, c)), run);
            }, ct);
        }

        /// <summary>Every Deployment of the namespace, or sharded, the held partitions' targets. Holding none, none is watched.</summary>
        private Task WatchDeploymentsAsync(CancellationToken ct)
        {
            if (!Sharded)
                return DeploymentWatch(null).RunAsync(items => Serial(() => OnDeploymentListAsync(items)), (t, d) => Serial(() => OnDeploymentAsync(t, d)), ct);
            return PerHeldSetAsync(async (held, _, changed, run) =>
            {
                if (held.Count == 0)
                {
                    await Serial(() => { _deployments.Clear(); return Task.CompletedTask; });
                    await Task.Delay(Timeout.InfiniteTimeSpan, owner.time, run);
                }
                else
                    await DeploymentWatch(Hosting.Sharding.PartitionLabel.Selector(held, owner.ownership.Partitions)).RunAsync(
                        items => Serial(() => OnTargetListAsync(items, changed)), (t, d) => Serial(() => OnDeploymentAsync(t, d)), run);
            }, ct);
        }

        /// <summary>Sharded: one watch per set of partitions held (<paramref name="watch"/> gets the set, whether it follows
        /// a change, a token cancelled at the next change, and its run's token), started again when the set changes.</summary>
        private async Task PerHeldSetAsync(Func<HashSet<int>, bool, CancellationToken, CancellationToken, Task> watch, CancellationToken ct)
        {
            for (var turn = 0; turn < int.MaxValue && !ct.IsCancellationRequested; turn++)
            {
                HashSet<int> held = [];
                var changed = CancellationToken.None;
                await Serial(() => { (held, changed) = ([.. _owned], _ownedChanged.Token); return Task.CompletedTask; });
                using var run = CancellationTokenSource.CreateLinkedTokenSource(ct, changed);
                try { await watch(held, turn > 0, changed, run.Token); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { } // the partitions held changed
            }
        }

        private ResilientWatch<Sighting> CanaryWatch(string? selector) =>
            Watch(CanaryResource.Group, CanaryResource.Version, CanaryResource.Plural, "canaries", selector);

        private ResilientWatch<Sighting> DeploymentWatch(string? selector) => Watch(Apps, AppsVersion, DeploymentsPlural, "deployments", selector);

        /// <summary>List, then watch, one kind of the namespace, read as the client parsed it (see <see cref="Sighting"/>):
        /// only the kept partitions' objects are parsed further.</summary>
        private ResilientWatch<Sighting> Watch(string group, string version, string plural, string what, string? selector)
        {
            var o = owner.options.Value;
            return new ResilientWatch<Sighting>(selector is null ? $"{ns} {what}" : $"{ns} {what} ({selector})",
                c => ListAllAsync(group, version, plural, c, selector),
                (rv, onError, c) => Select(owner.client.CustomObjects.WatchListNamespacedCustomObjectAsync(group, version, ns, plural,
                    allowWatchBookmarks: true, labelSelector: selector, resourceVersion: rv, timeoutSeconds: (int)o.WatchTimeout.TotalSeconds,
                    onError: onError, cancellationToken: c)),
                d => d.ResourceVersion, owner.time, o.MaxWatchBackoff, owner._logger);
        }

        /// <summary>Every <see cref="RelookEvery"/>, each cached target of a partition held now is evaluated again from the
        /// caches (no API request): level-triggered, so an event met while the partition's renewal ran late (and nothing
        /// could act) is acted on once it is held again. A target whose revision is the one tracked costs a hash.</summary>
        private async Task RelookAsync(CancellationToken ct)
        {
            if (owner.ownership.Partitions <= 1) return; // unsharded: every event is acted on when it comes
            for (var turn = 0; turn < int.MaxValue && !ct.IsCancellationRequested; turn++)
            {
                try { await Task.Delay(RelookEvery, owner.time, ct); }
                catch (OperationCanceledException) { return; }
                // One target at a time under the lock, not all of them in one hold: the watch's events wait behind at
                // most one target's look (a look of thousands of targets in one hold made the streams lag by minutes).
                List<string> names = [];
                await Serial(() => { names = [.. _deployments.Keys]; return Task.CompletedTask; });
                foreach (var name in names)
                    await Serial(async () =>
                    {
                        if (!_deployments.TryGetValue(name, out var d) || _canaryOf.GetValueOrDefault(name) is not { } canary || _initializing.Contains(canary)) return;
                        using var scope = ActFor(name, out var owned);
                        if (owned) await EvaluateAsync(d);
                    });
                // Targets the watch has not brought: made after their Canary, or their label lost (a target replaced whole).
                await Serial(() => { LabelUnseenTargets(); return Task.CompletedTask; });
            }
        }

        private static readonly TimeSpan RelookEvery = TimeSpan.FromSeconds(10);
        private const string Apps = "apps", AppsVersion = "v1", DeploymentsPlural = "deployments";

        private HashSet<int> OwnedNow() =>
            Enumerable.Range(0, owner.ownership.Partitions).Where(owner.ownership.Owns).ToHashSet();

        private int PartitionOf(string targetName) =>
            Hosting.Sharding.RolloutPartitions.OfTarget(new RolloutTarget(ns, targetName), owner.ownership.Partitions);

        /// <summary>At each change of the partitions held: forget the lost ones' objects, and look afresh at the gained ones'.
        /// The token is taken before the partitions are read, so a change while this runs is seen at the next turn.</summary>
        private async Task FollowOwnershipAsync(CancellationToken ct)
        {
            for (var turn = 0; turn < int.MaxValue && !ct.IsCancellationRequested; turn++)
            {
                var changed = owner.ownership.Changed;
                if (!changed.CanBeCanceled) return; // no sharding: nothing ever changes
                // Unchanged since the last look: wait for the next change. Otherwise (changed while the last look ran)
                // look again after a second.
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, changed))
                    try { await Task.Delay(OwnedNow().SetEquals(_owned) ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(1), owner.time, wait.Token); }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
                if (ct.IsCancellationRequested) return;
                try { await Serial(() => { Resync(); return Task.CompletedTask; }); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
            }
        }

        private void Resync()
        {
            var now = OwnedNow();
            var gained = now.Where(p => !_owned.Contains(p)).ToHashSet();
            var lost = _owned.Where(p => !now.Contains(p)).ToHashSet();
            foreach (var c in _canaries.Values.Where(c => lost.Contains(PartitionOf(c.TargetName))).ToList()) Forget(c);
            foreach (var name in _deployments.Keys.Where(d => lost.Contains(PartitionOf(d))).ToList()) _deployments.Remove(name);
            foreach (var target in _revisions.Keys.Where(t => lost.Contains(PartitionOf(t))).ToList()) _revisions.Remove(target);
            foreach (var target in _labelledAt.Keys.Where(t => lost.Contains(PartitionOf(t))).ToList()) _labelledAt.Remove(target);
            _requests.Forget(t => lost.Contains(PartitionOf(t)));
            if (now.SetEquals(_owned)) return;
            _owned = now;
            // Both watches start again for the partitions held now: their lists bring the gained ones' Canaries and targets,
            // and each target is evaluated against its Canary, whichever comes first.
            _targetsListed = false;
            var was = _ownedChanged;
            _ownedChanged = new CancellationTokenSource();
            was.Cancel(); // not disposed: the watch may still be linking to its token
            if (gained.Count > 0)
                owner._logger.LogInformation("{Namespace}: partitions {Partitions} taken; their Canaries looked at afresh", ns, string.Join(",", gained.Order()));
        }

        private void Forget(CanaryResource canary) => Forget(canary.Name, canary.TargetName);

        private void Forget(string name, string targetName)
        {
            _canaries.Remove(name);
            if (_canaryOf.GetValueOrDefault(targetName) == name) _canaryOf.Remove(targetName);
            _reportedInvalid.Remove(name);
        }

        /// <summary>A copy older than the cached one is not taken: a gained partition's list reads the objects as they are
        /// now, while the watch stream may still be delivering older changes (it lags under load); taking one of those after
        /// the list would evaluate an old pod template and request the previous revision again. Resource versions are
        /// compared as numbers where both are (etcd's and the sandbox's are).</summary>
        private static bool Older(string? listed, string? cached) =>
            long.TryParse(listed, out var l) && long.TryParse(cached, out var c) && l < c;

        /// <summary>Every object of a kind in the namespace, page by page, each item a small document of its own: the handling of the
        /// list copies out of the pages only the kept partitions' objects (see <see cref="Sighting"/>), and drops the rest.
        /// The resourceVersion is the first page's: the watch resumes from there and replays what changed during the later pages.</summary>
        private async Task<(IReadOnlyList<Sighting>, string)> ListAllAsync(string group, string version, string plural, CancellationToken c,
            string? labelSelector = null)
        {
            var found = new List<Sighting>();
            string? listedAt = null;
            await foreach (var page in CanaryStateListing.PagesAsync(owner.client, group, version, plural, ns, c, labelSelector))
            {
                listedAt ??= page.Metadata?.ResourceVersion ?? "";
                found.AddRange(page.Items.Select(item => new Sighting(item)));
            }
            return (found, listedAt ?? "");
        }

        private static async IAsyncEnumerable<(WatchEventType, Sighting)> Select(IAsyncEnumerable<(WatchEventType, object)> source)
        {
            await foreach (var (type, item) in source) yield return (type, Sighting.Of(item));
        }

        private async Task Serial(Func<Task> action)
        {
            await _serial.WaitAsync(_ct);
            try { await action(); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                owner._logger.LogWarning(e, "{Namespace}: handling a watch event failed", ns); // the next event or relist tries again
            }
            finally { _serial.Release(); }
        }

        /// <summary>Sharded replicas: only the owner of the Canary's target partition acts on it, inside that partition's
        /// scope (its writes pass the fence only while the partition's Lease is held).</summary>
        private IDisposable? ActFor(string targetName, out bool owned) => ActFor(targetName, out owned, out _);

        /// <param name="kept">The object stays in the caches: its partition was held at the last change looked at, or is
        /// held now. A renewal running late (not acting for the moment) must not lose what the owner will act on again:
        /// the periodic look (<see cref="RelookAsync"/>) acts on it once the partition is held again.</param>
        private IDisposable? ActFor(string targetName, out bool owned, out bool kept)
        {
            var partition = PartitionOf(targetName);
            owned = owner.ownership.Owns(partition);
            kept = owned || _owned.Contains(partition);
            return owned ? PartitionScope.Enter(partition) : null;
        }

        private void Track(Task task)
        {
            lock (_beside)
            {
                _beside.RemoveAll(t => t.IsCompleted);
                _beside.Add(task);
            }
        }

    }
}
