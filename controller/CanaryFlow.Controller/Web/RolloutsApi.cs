using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;

namespace CanaryFlow.Controller.Web;

/// <summary>Read-only status API: <c>GET /api/rollouts</c> and <c>GET /api/rollouts/{ns}/{name}</c>.</summary>
public static class RolloutsApi
{
    public static IEndpointRouteBuilder MapRolloutsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/rollouts", async (IRolloutStore store, RolloutHistory history, CancellationToken ct) =>
            (await store.LoadAllAsync(ct)).OrderBy(s => s.Target.ToString()).Select(s => View(s, history, withHistory: false)));

        app.MapGet("/api/rollouts/{ns}/{name}", async (string ns, string name, IRolloutStore store, RolloutHistory history, CancellationToken ct) =>
        {
            var state = await FindAsync(store, new RolloutTarget(ns, name), ct);
            return state is null
                ? Results.NotFound(new { error = $"no rollout for {ns}/{name}" })
                : Results.Ok(View(state, history, withHistory: true));
        });
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
