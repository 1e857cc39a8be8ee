using System.ComponentModel.DataAnnotations;
using CanaryFlow.Controller.Storage;

namespace CanaryFlow.Controller.Rollouts;

/// <summary>Settings of the rollout engine (configuration section "Rollouts").</summary>
public sealed class RolloutEngineOptions
{
    public const string Section = "Rollouts";

    /// <summary>How often the ticker looks for due checks, lost commands and missed deadlines.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan TickPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A command unanswered for this long is sent again (idempotent).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>While a canary (or, at promotion, stable) Deployment rolls out, how long until its command is sent again to
    /// ask whether it is available, then twice as long each time (up to 32×): workers never wait for it inside the message
    /// (Workers/WorkUnderWay).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RecheckAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the ticker waits before it sends an ask again whose last copy this process has not yet consumed
    /// (<see cref="AsksTaken"/>): such a copy is almost always still queued, and is lost only with a broker's data or a
    /// message dropped by hand. A restart re-says everything at once.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ResendUntakenAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>At most this many rollouts run at a time (per replica, when sharded: of the partitions it holds); the others
    /// wait in phase Queued and start in request order as slots free up. 0: no limit. A queued rollout has asked nothing
    /// of its canary, of the mesh or of Prometheus, so a burst of releases (a base image bumped in every service) is
    /// worked through at the pace the cluster and the metrics source can answer, not all at once.</summary>
    [Range(0, 1_000_000)]
    public int MaxActive { get; set; }

    /// <summary>Folder of the embedded state store (an append-only journal, see <see cref="FileRolloutStore"/>); by default outside the working folder (<see cref="DataFolders"/>).</summary>
    [Required]
    public string StateDirectory { get; set; } = DataFolders.Default("state");
}
