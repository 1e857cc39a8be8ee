using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes.Leadership;

/// <summary>
/// Leader election on a coordination.k8s.io Lease (KubernetesClient's <see cref="LeaderElector"/>): tries to
/// acquire, renews while leading, and on a failed renewal ends the term at once (token cancelled) and then
/// competes again. A standby acquires the lease when the leader stops renewing for the lease duration.
/// </summary>
public sealed class LeaseLeadership(IKubernetes client, IOptions<KubernetesOptions> options, WriteFence fence, ILogger<LeaseLeadership> logger)
    : BackgroundService, ILeadership
{
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
            using var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(client, o.LeaseNamespace, o.LeaseName, Identity))
            {
                LeaseDuration = o.LeaseDuration,
                RenewDeadline = o.RenewDeadline,
                RetryPeriod = o.RetryPeriod,
            });
            elector.OnStartedLeading += Started;
            elector.OnStoppedLeading += Stopped;
            try { await elector.RunUntilLeadershipLostAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception e) { logger.LogWarning(e, "Leader election of {Identity} failed; competing again", Identity); }
            finally { Stopped(); }
            // The elector may end on a stop by returning or by throwing: either way, hand the lease back
            // (only if this replica still holds it).
            if (stoppingToken.IsCancellationRequested) await ReleaseAsync();
            else await Task.Delay(o.RetryPeriod, stoppingToken).ContinueWith(_ => { });
        }
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

    private static CancellationTokenSource Cancelled()
    {
        var cts = new CancellationTokenSource();
        cts.Cancel();
        return cts;
    }
}
