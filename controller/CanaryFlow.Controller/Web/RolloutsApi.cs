using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Web;

/// <summary>Read-only status API: <c>GET /api/rollouts</c> and <c>GET /api/rollouts/{ns}/{name}</c> (see <see cref="ClusterRollouts"/>).</summary>
public static class RolloutsApi
{
    public static IEndpointRouteBuilder MapRolloutsApi(this IEndpointRouteBuilder app)
    {
        // Cluster-wide: this replica's rollouts in full, every other Canary's from the index, each marked with its owner.
        app.MapGet("/api/rollouts", (HttpContext http, CancellationToken ct) => ClusterRollouts.From(http.RequestServices).ListAsync(ct));

        app.MapGet("/api/rollouts/{ns}/{name}", async (string ns, string name, HttpContext http, CancellationToken ct) =>
            await ClusterRollouts.From(http.RequestServices).FindAsync(new RolloutTarget(ns, name), ct) is { } found
                ? Results.Ok(found)
                : Results.NotFound(new { error = $"no rollout for {ns}/{name}" }));
        return app;
    }

    /// <summary>The stored rollout of <paramref name="target"/>, or null when it has none.</summary>
    public static Task<RolloutState?> FindAsync(IRolloutStore store, RolloutTarget target, CancellationToken ct) =>
        store.LoadAsync(RolloutIds.ForTarget(target), ct);

    public static RolloutStatusView View(RolloutState s, RolloutHistory history, bool withHistory) =>
        new(s.Target, s.RolloutId, s.Revision, s.StableRevision, s.CurrentState, s.AppliedWeight, s.DesiredWeight,
            s.StepIndex, s.Plan.Steps, s.FailedChecks, s.Plan.FailureLimit, s.LastReason, s.LastEvidence,
            s.LastTransitionAt, withHistory ? history.For(s.CorrelationId) : [], s.Plan.Strategy, s.MetricsDownSince);
}
