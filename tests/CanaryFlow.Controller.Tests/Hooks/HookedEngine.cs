using System.Net;
using System.Net.Sockets;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hooks;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Tests.Notifications;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Sandbox.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.Hooks;

/// <summary>The real engine (<see cref="EngineUnderTest"/>) with signed hooks, and plans that carry hooks.</summary>
public static class HookedEngine
{
    public const string Secret = "hook-signing-secret-0123456789";
    public static readonly RolloutTarget Target = new("shop", "checkout");

    public static Task<EngineUnderTest> StartAsync(InMemoryWorld? world = null, string? stateDirectory = null, FakeTimeProvider? clock = null,
        Action<IServiceCollection>? extra = null) =>
        EngineUnderTest.StartAsync(world, stateDirectory, clock, (services, _) =>
        {
            services.Configure<HookOptions>(o =>
            {
                o.SigningSecret = Secret;
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
                o.BreakDuration = TimeSpan.FromMinutes(5);
            });
            extra?.Invoke(services);
        });

    public static HookSpec Hook(string type, string url, string? name = null) =>
        new(name ?? type, type, url, TimeSpan.FromSeconds(2), new Dictionary<string, string> { ["suite"] = "smoke" });

    public static RolloutPlan With(RolloutPlan plan, params HookSpec[] hooks) => plan with { Hooks = hooks };

    /// <summary>A URL on 127.0.0.1 where nothing listens (a port just taken and given back).</summary>
    public static string Unreachable()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return $"http://127.0.0.1:{port}/hook";
    }

    public static Task<RolloutState> At(this EngineUnderTest e, int weight) =>
        e.Until(Target, s => s.AppliedWeight == weight && s.Pending == null && s.NextAnalysisAt != null, $"canary at {weight}%");

    public static Task<RolloutState> Gated(this EngineUnderTest e, string gate) =>
        e.Until(Target, s => s.CurrentState == RolloutPhases.WaitingApproval && s.Gate == gate, $"waiting at the {gate} gate");
}
