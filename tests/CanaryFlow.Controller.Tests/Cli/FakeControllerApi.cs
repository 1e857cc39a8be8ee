using CanaryFlow.Contracts;
using CanaryFlow.Controller.Tests.ChatOps;
using CanaryFlow.Controller.Tests.Notifications;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Controller.Tests.Cli;

/// <summary>The controller's status API as the CLI reads it, serving one known rollout (shop/checkout) on 127.0.0.1.</summary>
public static class FakeControllerApi
{
    public static readonly RolloutTarget Known = new("shop", "checkout");

    public static RolloutStatusView View()
    {
        var t = NotificationHost.Transition(4, RolloutPhases.Progressing, 30);
        return new RolloutStatusView(Known, t.RolloutId, t.Revision, t.StableRevision, RolloutPhases.Progressing, 30, 30, 2, [10, 20, 30, 50, 100],
            1, 3, "Analysis passed", t.LastAnalysis, t.At, [t with { Phase = RolloutPhases.Progressing, FromPhase = RolloutPhases.Initializing, Reason = "Canary ready" }]);
    }

    /// <param name="viewForCall">The view to serve on the n-th status call (from 0); by default always <see cref="View"/>.</param>
    public static Task<LocalWebApp> StartAsync(Func<int, RolloutStatusView>? viewForCall = null)
    {
        var calls = 0;
        return LocalWebApp.StartAsync(new Dictionary<string, string?>(), (_, _) => { }, app =>
        {
            app.MapGet("/api/rollouts", () => Results.Json(new[] { View() }));
            app.MapGet("/api/rollouts/{ns}/{name}", (string ns, string name) =>
                new RolloutTarget(ns, name) == Known ? Results.Json((viewForCall ?? (_ => View()))(Interlocked.Increment(ref calls) - 1)) : Results.NotFound());
        });
    }
}
