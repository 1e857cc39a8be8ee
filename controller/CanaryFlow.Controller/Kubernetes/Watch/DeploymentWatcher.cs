using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Workloads;
using k8s;
using k8s.Autorest;
using k8s.Models;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
/// </summary>
public sealed class DeploymentWatcher : BackgroundService
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
    private sealed class NamespaceWatch(DeploymentWatcher owner, string ns)
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

        /// <summary>The held partitions' targets, listed: the cache takes them, and every owned Canary whose target is not
        /// among them gets its target labelled (a target not labelled yet, or labelled for another partition count).</summary>
        /// <param name="changed">The list's partitions are no longer the ones held: the next watch lists again.</param>
        private async Task OnTargetListAsync(IReadOnlyList<Sighting> items, CancellationToken changed)
        {
            if (changed.IsCancellationRequested) return;
            await OnDeploymentListAsync(items);
            _targetsListed = true;
            LabelUnseenTargets();
        }

        /// <summary>Every owned Canary's target that the Deployment watch has not brought gets its label (see
        /// <see cref="LabelTargetIfUnseen"/>). Called under the watch's lock.</summary>
        private void LabelUnseenTargets()
        {
            foreach (var canary in _canaries.Values.Where(c => !_deployments.ContainsKey(c.TargetName) && !c.IsDeleting).ToList())
            {
                using var scope = ActFor(canary.TargetName, out var owned);
                if (owned) LabelTargetIfUnseen(canary);
            }
        }

        /// <summary>Sharded: an owned Canary whose target the Deployment watch has not brought gets the partition label on
        /// its target, which brings it (the watch sees it enter its selector). Written at most every
        /// <see cref="RelabelAfter"/> per target: a target that does not exist yet costs one request that often, from the
        /// periodic look, until it does. Called under the watch's lock, in the partition's scope.</summary>
        private void LabelTargetIfUnseen(CanaryResource canary)
        {
            var target = canary.TargetName;
            if (!Sharded || !_targetsListed || target.Length == 0 || _deployments.ContainsKey(target)) return;
            var now = owner.time.GetUtcNow();
            if (_labelledAt.TryGetValue(target, out var at) && now - at < RelabelAfter) return;
            _labelledAt[target] = now;
            var value = Hosting.Sharding.PartitionLabel.Value(PartitionOf(target), owner.ownership.Partitions);
            Track(Task.Run(async () =>
            {
                try
                {
                    await owner.deployments.SetPartitionLabelAsync(ns, target, value, _ct);
                    owner._logger.LogDebug("{Namespace}/{Target}: labelled for partition {Value}", ns, target, value);
                }
                catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { } // no target (yet): the Canary reports it
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    owner._logger.LogWarning("{Namespace}/{Target}: could not write its partition label ({Error}); trying again later", ns, target, e.Message);
                }
            }));
        }

        private static readonly TimeSpan RelabelAfter = TimeSpan.FromSeconds(30);

        /// <summary>A Canary that left the watch: still on the server (its label changed), or gone (null; also when the
        /// read fails, so that a deletion is never lost to an API error).</summary>
        private async Task<CanaryResource?> StillThereAsync(string name)
        {
            try { return await owner.api.GetCanaryAsync(ns, name, _ct); }
            catch (Exception e) when (e is not OperationCanceledException) { return null; }
        }

        /// <summary>Sharded: a Canary labelled with a partition this replica holds, but not its own (a label copied with a
        /// manifest from another Canary, or written by hand), would reach only this replica, which does not own it, and never
        /// its owner. Its label is taken off, in the named partition's scope, so that every replica sees it again and the
        /// owner labels it. Called under the watch's lock.</summary>
        private async Task UnlabelIfMisplacedAsync(Sighting seen)
        {
            if (!Sharded || seen.TargetName.Length == 0 || seen.Label(Hosting.Sharding.PartitionLabel.Key) is not { } label
                || Hosting.Sharding.PartitionLabel.Partition(label, owner.ownership.Partitions) is not { } named
                || named == PartitionOf(seen.TargetName) || !owner.ownership.Owns(named)) return;
            using var scope = PartitionScope.Enter(named);
            try
            {
                await owner.api.SetPartitionLabelAsync(ns, seen.Name, null, _ct);
                owner._logger.LogInformation("Canary {Namespace}/{Name}: its partition label {Label} names another partition; taken off for its owner", ns, seen.Name, label);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                owner._logger.LogWarning("Canary {Namespace}/{Name}: could not take off a partition label of another partition ({Error})", ns, seen.Name, e.Message);
            }
        }

        /// <summary>Sharded: an owned Canary without its partition's label (new, or labelled for another partition count, or
        /// by hand) gets it, so that the other replicas' watches stop receiving it. True when written: the write's own event
        /// carries on from here (and the finalizer's patch, conditional on the version, would meet the new one). A write
        /// that fails is no reason to stop: the Canary is handled unlabelled, and its next event tries again. Called under
        /// the watch's lock, in the partition's scope.</summary>
        private async Task<bool> LabelIfStaleAsync(CanaryResource canary)
        {
            if (!Sharded) return false;
            var value = Hosting.Sharding.PartitionLabel.Value(PartitionOf(canary.TargetName), owner.ownership.Partitions);
            if (canary.Metadata.Labels?.GetValueOrDefault(Hosting.Sharding.PartitionLabel.Key) == value) return false;
            try
            {
                await owner.api.SetPartitionLabelAsync(ns, canary.Name, value, _ct);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return true; } // gone: its event says so
            catch (Exception e) when (e is not OperationCanceledException)
            {
                owner._logger.LogWarning("Canary {Namespace}/{Name}: could not write its partition label ({Error})", ns, canary.Name, e.Message);
                return false;
            }
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

        /// <param name="onlyNew">The list follows a change of the partitions held: a Canary cached at the version listed
        /// was looked at already, and only the others (the gained partitions') are.</param>
        private async Task OnCanaryListAsync(IReadOnlyList<Sighting> items, bool onlyNew = false)
        {
            // Owned Canaries that went while the watch was away (no Deleted event will tell).
            var listed = items.Select(c => c.Name).ToHashSet();
            foreach (var gone in _canaries.Values.Where(c => !listed.Contains(c.Name)).ToList())
            {
                using var scope = ActFor(gone.TargetName, out var owned);
                if (owned) await DeletedAsync(gone.TargetName);
            }
            var seen = onlyNew ? _canaries.Values.Select(c => (c.Name, c.Metadata.ResourceVersion)).ToHashSet() : [];
            _canaries.Clear();
            _canaryOf.Clear();
            if (!Sharded) owner.index.Replace(ns, items.Select(c => (c.Name, c.TargetName, c.Status)));
            foreach (var c in items)
                if (seen.Contains((c.Name, c.ResourceVersion))) Keep(c.ToCanary());
                else await OnCanaryAsync(WatchEventType.Added, c, fromList: true);
        }

        private void Keep(CanaryResource canary)
        {
            _canaries[canary.Name] = canary;
            _canaryOf[canary.TargetName] = canary.Name;
        }

        /// <summary>Every replica's observers forget the target (its metrics series above all): the Canary is gone.</summary>
        private async Task DeletedAsync(string targetName)
        {
            if (targetName.Length == 0) return;
            var target = new RolloutTarget(ns, targetName);
            await owner.bus.PublishWithin(new CanaryDeleted(RolloutIds.ForTarget(target), target, owner.time.GetUtcNow()), owner.time, _ct);
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

        private async Task OnCanaryAsync(WatchEventType type, Sighting seen, bool fromList = false)
        {
            if (!Sharded) // sharded, the cluster-wide view lists the Canaries when it is asked for (ClusterCanaryStatuses)
            {
                if (type == WatchEventType.Deleted) owner.index.Remove(ns, seen.Name);
                else if (!fromList) owner.index.Observe(ns, seen.Name, seen.TargetName, seen.Status);
            }
            using var scope = ActFor(seen.TargetName, out var owned, out var kept);
            if (!fromList) owner.Tally.Canary(kept);
            // Another replica's: nothing kept (a Canary that moved to another target leaves its old entry too), nothing parsed.
            if (!kept)
            {
                if (_canaries.TryGetValue(seen.Name, out var was)) Forget(was);
                if (type != WatchEventType.Deleted) await UnlabelIfMisplacedAsync(seen);
                return;
            }
            if (type == WatchEventType.Deleted)
            {
                // Sharded, a Canary whose partition label was changed to another replica's leaves the watch as if deleted.
                if (owned && Sharded && await StillThereAsync(seen.Name) is { IsDeleting: false } still)
                {
                    await LabelIfStaleAsync(still); // it comes back (ADDED) with its own partition's label
                    return;
                }
                Forget(seen.Name, seen.TargetName);
                _revisions.Remove(seen.TargetName);
                if (owned) await DeletedAsync(seen.TargetName);
                return;
            }
            if (_canaries.TryGetValue(seen.Name, out var cached) && Older(seen.ResourceVersion, cached.Metadata.ResourceVersion)) return;
            var canary = seen.ToCanary(); // without the saga's state: the store's business, and the bulk of a Canary
            if (_canaries.TryGetValue(canary.Name, out var previous) && previous.TargetName != canary.TargetName) Forget(previous);
            _canaries[canary.Name] = canary;
            _canaryOf[canary.TargetName] = canary.Name;
            if (!owned) return; // kept for when the partition is held again (a late renewal)
            if (canary.IsDeleting) { StartDeletion(canary.Name); return; }
            if (await LabelIfStaleAsync(canary)) return; // its event brings it back here, labelled
            LabelTargetIfUnseen(canary);
            if (!await CheckSpecAsync(canary)) return;
            // Added before anything is created, so that a deletion from now on gives the service back. A 409 means a
            // newer version of the Canary is on its way through the watch: that event tries again.
            if (!CanaryFinalizer.Has(canary) && !await owner.deletion.Finalizer.AddAsync(canary, _ct)) return;
            if (canary.StatusString(TrackedRevisionField) is null) { StartInitialization(canary); return; }
            // autoscalerRef removed or renamed: the primary's HPA copy follows now (a relist misses it: the next rollout's
            // reconcile brings it in step then).
            if (previous is not null && previous.Spec?.AutoscalerRef?.Name != canary.Spec?.AutoscalerRef?.Name)
                await owner.initializer.FollowAutoscalerAsync(CanaryContext.From(canary, owner.options.Value.TrackLabel), _ct);
            if (_deployments.TryGetValue(canary.TargetName, out var d)) await EvaluateAsync(d);
        }

        private async Task OnDeploymentListAsync(IReadOnlyList<Sighting> items)
        {
            _deployments.Clear();
            foreach (var d in items) await OnDeploymentAsync(WatchEventType.Added, d, fromList: true);
        }

        private async Task OnDeploymentAsync(WatchEventType type, Sighting seen, bool fromList = false)
        {
            var name = seen.Name;
            using var scope = ActFor(name, out var owned, out var kept);
            // Of use: a target of a Canary this replica keeps (the stable copies and other Deployments never are).
            if (!fromList) owner.Tally.Deployment(kept: _canaryOf.ContainsKey(name));
            if (type == WatchEventType.Deleted) { _deployments.Remove(name); return; }
            if (!kept) { _deployments.Remove(name); return; } // another replica's target (or a stable copy): not kept, not parsed
            if (_deployments.TryGetValue(name, out var cached) && Older(seen.ResourceVersion, cached.ResourceVersion)) return;
            var deployment = WatchedDeployment.From(seen, owner.options.Value.TrackLabel);
            _deployments[name] = deployment;
            _labelledAt.Remove(name);
            if (owned) await EvaluateAsync(deployment);
        }

        /// <summary>Publishes a rollout when the target's pod template has a revision not seen before.</summary>
        private async Task EvaluateAsync(WatchedDeployment deployment)
        {
            if (!_canaryOf.TryGetValue(deployment.Name, out var canaryName) || !_canaries.TryGetValue(canaryName, out var canary)) return; // not governed
            if (canary.IsDeleting) return; // its deletion rewrites the target to give it back: that is no new revision
            if (canary.StatusString(TrackedRevisionField) is not { } tracked)
            {
                // Not initialised (yet, or it failed): a change of the target is a good moment to try again.
                if ((await owner.plans.MapAsync(canary, _ct)).IsValid) StartInitialization(canary);
                return;
            }
            var target = new RolloutTarget(ns, deployment.Name);
            var revision = deployment.Revision;
            var known = _revisions.GetValueOrDefault(target.Name) ?? tracked;
            if (revision == known) return;
            var plan = await owner.plans.MapAsync(canary, _ct); // templates read now: a rollout runs what they say at its start
            if (plan.Plan is null) { await ReportInvalidAsync(canary, plan.Errors); return; }

            var image = deployment.ImageOf(canary.Spec?.ImagePolicy?.Container);
            _revisions[target.Name] = revision;
            _requests.Request(canary.Name, new RolloutRequested(RolloutIds.ForTarget(target), RolloutIds.ForRevision(target, revision), target, revision,
                image, plan.Plan, "watch:deployment", $"pod template changed ({known} -> {revision})", owner.time.GetUtcNow()), Track);
        }

        /// <summary>Whether the target's template on the server still has the revision about to be requested. If not, the
        /// watch's copy was stale: the request is dropped, the server's copy taken into the cache (and evaluated: its revision
        /// is requested if it is new), and the dropped revision forgotten, so that the target is compared with its tracked
        /// revision again. A target that is gone has nothing to roll out.</summary>
        private async Task<bool> StillCurrentAsync(RolloutRequested request)
        {
            Sighting seen;
            try
            {
                seen = await ReadDeploymentAsync(request.Target.Name);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return false; }
            var onServer = WatchedDeployment.From(seen, owner.options.Value.TrackLabel).Revision;
            if (onServer == request.Revision) return true;
            owner._logger.LogInformation("{Target}: revision {Revision} not requested: the target's template on the server has revision {OnServer} " +
                "(the watch's copy was older)", request.Target, request.Revision, onServer);
            await Serial(async () =>
            {
                if (_revisions.GetValueOrDefault(request.Target.Name) == request.Revision) _revisions.Remove(request.Target.Name);
                await OnDeploymentAsync(WatchEventType.Modified, seen, fromList: true); // a read, not a watch event
            });
            return false;
        }

        /// <summary>A request that failed (published or not, its revision not recorded): forgotten, so the periodic look
        /// (<see cref="RelookAsync"/>) asks for it again.</summary>
        private Task ForgetRequestAsync(RolloutRequested failed) => Serial(() =>
        {
            if (_revisions.GetValueOrDefault(failed.Target.Name) == failed.Revision) _revisions.Remove(failed.Target.Name);
            return Task.CompletedTask;
        });

        private void Track(Task task)
        {
            lock (_beside)
            {
                _beside.RemoveAll(t => t.IsCompleted);
                _beside.Add(task);
            }
        }

        private async Task<bool> CheckSpecAsync(CanaryResource canary)
        {
            var result = await owner.plans.MapAsync(canary, _ct);
            if (result.IsValid) { _reportedInvalid.Remove(canary.Name); return true; }
            await ReportInvalidAsync(canary, result.Errors);
            return false;
        }

        /// <summary>A condition and a Warning Event, once per generation of the spec.</summary>
        private async Task ReportInvalidAsync(CanaryResource canary, IReadOnlyList<string> errors)
        {
            var generation = canary.Metadata.Generation ?? 0;
            if (_reportedInvalid.TryGetValue(canary.Name, out var reported) && reported == generation) return;
            _reportedInvalid[canary.Name] = generation;
            var message = string.Join("; ", errors);
            owner._logger.LogWarning("Canary {Namespace}/{Name} is invalid: {Errors}", ns, canary.Name, message);
            var now = owner.time.GetUtcNow();
            await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
                CanaryStatusView.SetCondition(status, "Ready", "False", "InvalidSpec", message, CanaryStatusView.Timestamp(now)), _ct);
            await owner.api.RecordEventAsync(canary, "Warning", "InvalidSpec", message, now.UtcDateTime, _ct);
        }

        private void StartInitialization(CanaryResource canary) =>
            StartBeside(_initializing, canary.Name, "initialisation", () => InitializeAsync(canary), then: () => StartDeletion(canary.Name));

        /// <summary>Gives the service back, but not while an initialisation is still creating objects (it would create
        /// them after the deletion had looked): that one finishes first, then starts the deletion.</summary>
        private void StartDeletion(string name)
        {
            if (_canaries.TryGetValue(name, out var canary) && canary.IsDeleting && CanaryFinalizer.Has(canary) && !_initializing.Contains(name))
                StartBeside(_finalizing, name, "deletion", () => owner.deletion.RunAsync(ns, name, _ct));
        }

        /// <summary>Runs work beside the watch (it waits for Deployments to become available), once at a time per Canary.</summary>
        /// <param name="then">Run (under the watch's lock) once the work is over.</param>
        private void StartBeside(HashSet<string> running, string name, string what, Func<Task> work, Action? then = null)
        {
            if (!running.Add(name)) return;
            var task = Task.Run(async () =>
            {
                try { await work(); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    owner._logger.LogWarning(e, "Canary {Namespace}/{Name}: {What} failed", ns, name, what);
                }
                finally { await Serial(() => { running.Remove(name); then?.Invoke(); return Task.CompletedTask; }); }
            });
            Track(task);
        }

        /// <summary>Starts the initialisation of a Canary that is still not initialised again after a pause (the watch's
        /// own events may never come: see the caller). One retry pending per Canary, its pause doubling from 5 s up to
        /// 5 min while it keeps failing, so failing Canaries never make a retry storm. Only the partition's holder
        /// starts it; a deleted or initialised Canary is left alone. Called under the watch's lock.</summary>
        /// <param name="soon">A step of work under way (a primary's migration), no failure: again at the poll interval.</param>
        private void RetryInitializationLater(string name, bool soon = false)
        {
            if (!_initRetryPending.Add(name)) return;
            var failures = soon ? 0 : (_initFailures[name] = _initFailures.GetValueOrDefault(name) + 1);
            var pause = soon ? owner.options.Value.PollInterval : TimeSpan.FromSeconds(Math.Min(300, 5 * Math.Pow(2, Math.Min(failures - 1, 6))));
            _ = Task.Run(async () =>
            {
                try
                {
                    await Task.Delay(pause, owner.time, _ct);
                    await Serial(() =>
                    {
                        _initRetryPending.Remove(name);
                        if (!_canaries.TryGetValue(name, out var canary) || canary.IsDeleting || canary.StatusString(TrackedRevisionField) is not null)
                            _initFailures.Remove(name);
                        // The initialisation that asked for this retry is still writing its status (a short pause ends
                        // before it does): starting now would be refused and the retry lost, so look again after a pause.
                        else if (_initializing.Contains(name)) RetryInitializationLater(name, soon: true);
                        else
                        {
                            using var scope = ActFor(canary.TargetName, out var owned, out _);
                            if (owned) StartInitialization(canary);
                        }
                        return Task.CompletedTask;
                    });
                }
                catch (OperationCanceledException) { } // the watch stopped
            });
        }

        private static JsonObject? ReadyCondition(CanaryResource canary) =>
            (canary.Status?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == "Ready");

        /// <summary>The revision the stable copy runs: the one it was made from (its annotation), not the target's template now.
        /// A release made while the stable copy was waited for is already in the target's template; taken as stable, it
        /// would never be rolled out. A stable copy made by an earlier version, without the annotation, had the target's
        /// template when this ran before: the target's revision stands in for it.</summary>
        private async Task<string> StableRevisionAsync(CanaryContext ctx)
        {
            if ((await ReadDeploymentAsync(ctx.PrimaryName)).Annotation(Deployments.RevisionAnnotation) is { Length: > 0 } made) return made;
            return WatchedDeployment.From(await ReadDeploymentAsync(ctx.Target.Name), ctx.TrackLabel).Revision;
        }

        /// <summary>A Deployment as the server has it now, read as the watch reads its events (raw, parsed no further
        /// than needed).</summary>
        /// <exception cref="HttpOperationException">404 when it is gone.</exception>
        private async Task<Sighting> ReadDeploymentAsync(string name) =>
            Sighting.Of(await owner.client.CustomObjects.GetNamespacedCustomObjectAsync(Apps, AppsVersion, ns, DeploymentsPlural, name, cancellationToken: _ct));

        private async Task InitializeAsync(CanaryResource canary)
        {
            // The cached copy can be older than the server's: under load the Canary stream lags the Deployment stream, and a
            // release (or the periodic look) then finds a copy without the tracked revision of an initialisation that is
            // done. Initialising again would read the target's template as it is now, a release not rolled out, and record
            // it as the stable revision: the release would never be rolled out (issue 15: thousands of Canaries stayed
            // Initialized, re-initialised every 10 s). The server's copy decides; the cache takes it.
            if (await owner.api.GetCanaryAsync(ns, canary.Name, _ct) is not { } current || current.IsDeleting) return;
            if (current.StatusString(TrackedRevisionField) is not null)
            {
                await Serial(async () =>
                {
                    if (_canaries.TryGetValue(current.Name, out var cached) && Older(current.Metadata.ResourceVersion, cached.Metadata.ResourceVersion)) return;
                    _canaries[current.Name] = current;
                    _canaryOf[current.TargetName] = current.Name;
                    using var scope = ActFor(current.TargetName, out var owned);
                    if (owned && _deployments.TryGetValue(current.TargetName, out var d)) await EvaluateAsync(d);
                });
                return;
            }
            var ctx = CanaryContext.From(canary, owner.options.Value.TrackLabel);
            // The adopted VirtualService's routes before CanaryFlow writes to them (first sight sets them to 100/0),
            // to give them back on deletion.
            var adopted = ctx.AdoptsVirtualService && canary.Status?[CanaryDeletion.AdoptedRoutesField] is null
                && await owner.api.GetCustomAsync(Routing.Istio.Group, Routing.Istio.Version, ns, Routing.Istio.VirtualServices, ctx.VirtualServiceName, _ct) is { } vs
                ? AdoptedRoutes.Snapshot(vs, ctx.ServiceName, ns, ctx.Subsets) : null;
            var failure = await owner.initializer.EnsureAsync(ctx, firstSight: true, _ct);
            var now = owner.time.GetUtcNow();
            var stamp = CanaryStatusView.Timestamp(now);
            if (failure is not null)
            {
                // Tried again later whatever happens meanwhile: the primary becoming available is no event of the
                // Canary or its target, and the same failure twice writes nothing that would bring us back here.
                await Serial(() => { RetryInitializationLater(canary.Name, soon: failure.Requeue); return Task.CompletedTask; });
                // Reported once: the status write below is itself a Canary event that brings us back here.
                if (ReadyCondition(canary) is { } ready && (string?)ready["reason"] == failure.Reason && (string?)ready["message"] == failure.Message) return;
                owner._logger.Log(failure.Requeue ? LogLevel.Information : LogLevel.Warning, "Canary {Namespace}/{Name}: {Reason}: {Message}",
                    ns, canary.Name, failure.Reason, failure.Message);
                await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
                    CanaryStatusView.SetCondition(status, "Ready", "False", failure.Reason, failure.Message, stamp), _ct);
                await owner.api.RecordEventAsync(canary, failure.Requeue ? "Normal" : "Warning", failure.Reason, failure.Message, now.UtcDateTime, _ct);
                return;
            }
            var revision = await StableRevisionAsync(ctx);
            await owner.statusWriter.UpdateAsync(ns, canary.Name, (_, status) =>
            {
                if (adopted is not null) status[CanaryDeletion.AdoptedRoutesField] ??= adopted;
                // Initialised meanwhile (another replica before a partition moved): its revisions stand.
                status[TrackedRevisionField] ??= revision;
                status["stableRevision"] ??= revision;
                status["phase"] ??= CanaryStatusView.Initialized; // nothing has rolled out yet: not Succeeded
                status["canaryWeight"] ??= 0;
                status["lastTransitionTime"] = stamp;
                CanaryStatusView.SetCondition(status, "Ready", "True", "Initialized", $"stable {ctx.PrimaryName} serves revision {revision}", stamp);
            }, _ct);
            // The cache's copy learns the revision now, not when the Canary stream brings the write (it may lag by minutes),
            // and the target is looked at against it at once: a release made while the stable copy was being made up is
            // requested now (its Deployment event came while the Canary was not initialised, and asked for nothing).
            await Serial(async () =>
            {
                if (_canaries.TryGetValue(canary.Name, out var cached) && cached.StatusString(TrackedRevisionField) is null)
                {
                    var status = cached.Status?.DeepClone() as JsonObject ?? [];
                    status[TrackedRevisionField] = revision;
                    _canaries[canary.Name] = cached with { Status = status };
                }
                using var scope = ActFor(canary.TargetName, out var owned);
                if (owned && _deployments.TryGetValue(canary.TargetName, out var d)) await EvaluateAsync(d);
            });
            await owner.api.RecordEventAsync(canary, "Normal", "Initialized",
                $"created {ctx.PrimaryName} and routing; all traffic on stable revision {revision}", now.UtcDateTime, _ct);
            owner._logger.LogInformation("Canary {Namespace}/{Name} initialised at revision {Revision}", ns, canary.Name, revision);
        }
    }
}
