using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Leader election on a coordination.k8s.io Lease, with client-go's protocol (holderIdentity, renewTime,
/// leaseTransitions; every write conditional on the resourceVersion read): tries to acquire, renews every retry
/// period while leading, and ends the term at once (token cancelled, fence closed) when the Lease is lost or no
/// renewal succeeded for the renew deadline. A standby takes the Lease when it expires (see <see cref="LeaseExpiry"/>),
/// waking at the expiry itself, so a dead leader is replaced within the lease duration of its last renewal.
/// </summary>
public sealed class LeaseLeadership(IKubernetes client, IOptions<KubernetesOptions> options, WriteFence fence, TimeProvider time,
    ILogger<LeaseLeadership> logger) : BackgroundService, ILeadership
{
    private readonly TimeSpan _trust = LeaseExpiry.Trust(options.Value);
    private readonly Lock _gate = new();
    private TaskCompletionSource _acquired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _term = Cancelled();

    public string Identity { get; } = options.Value.Identity ?? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";

    public bool IsLeader { get; private set; }

    public CancellationToken LeadershipToken { get { lock (_gate) return _term.Token; } }

    public Task WaitForLeadershipAsync(CancellationToken cancellationToken)
    {
        Task acquired;
        lock (_gate) acquired = _acquired.Task;
        return acquired.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var held = await CompeteAsync(stoppingToken);
                if (held is { } h) await LeadAsync(h, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever failed (API down, circuit open, a malformed Lease), compete again after a pause: the
                // election must outlive any single error, or this replica could never lead again.
                logger.LogWarning("Leader election of {Identity}: {Error}; competing again", Identity, e.Message);
                Stopped();
                await Delay(Jittered(o.RetryPeriod), stoppingToken);
            }
        }
        Stopped();
        await ReleaseAsync();
    }

    /// <summary>Polls the Lease until this replica holds it; returns the Lease as written, or null when stopping.</summary>
    private async Task<(V1Lease Lease, DateTimeOffset RenewedAt)?> CompeteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        (string? Version, DateTimeOffset At) sighting = (null, default);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var lease = await ReadAsync(stoppingToken);
            if (lease is null)
            {
                var created = await WriteAsync(null, now, stoppingToken);
                if (created is not null) return (created, now);
                continue; // another replica created it first: read it
            }
            if (lease.Metadata.ResourceVersion != sighting.Version) sighting = (lease.Metadata.ResourceVersion, now);
            var takeableAt = LeaseRecord.TakeableAt(lease, o.LeaseDuration, sighting.At, _trust);
            var holder = lease.Spec?.HolderIdentity;
            if (string.IsNullOrEmpty(holder) || holder == Identity || now >= takeableAt)
            {
                var taken = await WriteAsync(lease, now, stoppingToken);
                if (taken is not null) return (taken, now);
                continue; // 409: someone else wrote it in between; read again
            }
            // Wake at the expiry itself rather than at the next poll: that poll could come a retry period late.
            var untilExpiry = takeableAt - now + TimeSpan.FromMilliseconds(1);
            await Delay(untilExpiry < o.RetryPeriod ? untilExpiry : Jittered(o.RetryPeriod), stoppingToken);
        }
        return null;
    }

    /// <summary>Renews every retry period; the term ends (fence closed) on losing the Lease or when no renewal has
    /// succeeded for the renew deadline, which is always before a standby may take the Lease.</summary>
    private async Task LeadAsync((V1Lease Lease, DateTimeOffset RenewedAt) held, CancellationToken stoppingToken)
    {
        var o = options.Value;
        var (lease, renewedAt) = held;
        Started();
        try
        {
            while (true)
            {
                var deadline = renewedAt + o.RenewDeadline;
                var wait = deadline - time.GetUtcNow();
                await Delay(wait < o.RetryPeriod ? wait : o.RetryPeriod, stoppingToken);
                var attempt = time.GetUtcNow();
                if (attempt >= deadline) { logger.LogWarning("{Identity} could not renew the lease within {Deadline}", Identity, o.RenewDeadline); return; }
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                bounded.CancelAfter(deadline - attempt);
                try
                {
                    var renewed = await WriteAsync(lease, attempt, bounded.Token);
                    if (renewed is null)
                    {
                        // 409: read what won. Our own retried write may have landed; anything else means we lost.
                        var current = await ReadAsync(bounded.Token);
                        if (current?.Spec?.HolderIdentity != Identity) return;
                        lease = current;
                        continue;
                    }
                    (lease, renewedAt) = (renewed, attempt);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested &&
                                          e is HttpOperationException or HttpRequestException or OperationCanceledException)
                {
                    logger.LogInformation("{Identity} failed to renew the lease ({Error}); retrying until the renew deadline", Identity, e.Message);
                }
            }
        }
        finally { Stopped(); }
    }

    private async Task<V1Lease?> ReadAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        try { return await client.CoordinationV1.ReadNamespacedLeaseAsync(o.LeaseName, o.LeaseNamespace, cancellationToken: cancellationToken); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }

    /// <summary>Takes or renews the Lease for this replica, conditional on the version read (<paramref name="read"/>
    /// null: create it). Null when another writer got there first (409).</summary>
    private Task<V1Lease?> WriteAsync(V1Lease? read, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var o = options.Value;
        return LeaseRecord.WriteAsync(client, LeaseRecord.For(o.LeaseName, o.LeaseNamespace, read, Identity, now, o.LeaseDuration), read is null, cancellationToken);
    }

    /// <summary>
    /// On a graceful stop, hands the lease back (empty holder) so that a standby takes over at its next retry
    /// instead of after the lease expires. Conditional on the version read: a lease already taken is left alone.
    /// </summary>
    private async Task ReleaseAsync()
    {
        var o = options.Value;
        using var timeout = new CancellationTokenSource(o.RenewDeadline);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                var lease = await client.CoordinationV1.ReadNamespacedLeaseAsync(o.LeaseName, o.LeaseNamespace, cancellationToken: timeout.Token);
                if (lease.Spec?.HolderIdentity != Identity) return;
                var patch = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["resourceVersion"] = lease.Metadata.ResourceVersion },
                    ["spec"] = new JsonObject { ["holderIdentity"] = "" },
                };
                await client.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
                    o.LeaseName, o.LeaseNamespace, cancellationToken: timeout.Token);
                logger.LogInformation("{Identity} released lease {Lease}", Identity, o.LeaseName);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
            {
                // A renewal still in flight when the elector stopped wrote the lease first: read again.
            }
            catch (Exception e) when (e is HttpOperationException or OperationCanceledException or HttpRequestException)
            {
                logger.LogInformation("{Identity} could not release the lease ({Error}); it expires on its own", Identity, e.Message);
                return;
            }
        }
    }

    private void Started()
    {
        lock (_gate)
        {
            if (IsLeader) return;
            _term = new CancellationTokenSource();
            IsLeader = true;
            fence.Set(true);
            _acquired.TrySetResult();
        }
        logger.LogInformation("{Identity} leads (lease {Lease})", Identity, options.Value.LeaseName);
    }

    private void Stopped()
    {
        CancellationTokenSource ended;
        lock (_gate)
        {
            if (!IsLeader) return;
            IsLeader = false;
            fence.Set(false); // before anything else: no write may leave this replica from now on
            ended = _term;
            _acquired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        ended.Cancel(); // stop writing now: another replica may take the lease once it expires
        logger.LogWarning("{Identity} lost leadership", Identity);
    }

    private Task Delay(TimeSpan wait, CancellationToken cancellationToken) =>
        wait > TimeSpan.Zero ? Task.Delay(wait, time, cancellationToken) : Task.CompletedTask;

    private static TimeSpan Jittered(TimeSpan period) => LeaseRecord.Jittered(period);

    private static CancellationTokenSource Cancelled()
    {
        var cts = new CancellationTokenSource();
        cts.Cancel();
        return cts;
    }
}
