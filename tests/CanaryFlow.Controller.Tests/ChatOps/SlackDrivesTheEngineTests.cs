using System.Globalization;
using System.Net;
using System.Text;
using CanaryFlow.Analysis;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Bus;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Controller.Notifications.Channels;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Tests.Rollouts;
using CanaryFlow.Controller.Triggers.Security;
using CanaryFlow.Controller.Web;
using CanaryFlow.Sandbox.Simulation;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CanaryFlow.Controller.Tests.ChatOps;

/// <summary>A Slack button click all the way through the real rollout engine.</summary>
public sealed class SlackDrivesTheEngineTests
{
    private const string SigningSecret = "0123456789abcdef0123456789abcdef";
    private const string AllowedUser = "U0ALLOWED";
    private static readonly RolloutTarget Target = new("shop", "checkout");

    [Fact]
    public async Task A_signed_promote_click_promotes_a_paused_rollout()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-25T15:00:00Z"));
        var world = new InMemoryWorld();
        await using var app = await LocalWebApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["Slack:SigningSecret"] = SigningSecret,
                ["Slack:AllowedUsers:0"] = AllowedUser,
                ["Rollouts:StateDirectory"] = Directory.CreateTempSubdirectory("canaryflow-slack-").FullName,
            },
            (services, configuration) =>
            {
                services.AddSingleton<TimeProvider>(clock);
                services.AddSingleton<ITrafficRouter>(world).AddSingleton<IWorkloadController>(world).AddSingleton<IAnalysisRunner>(world);
                services.AddRolloutEngineServices(configuration);
                services.AddCanaryFlowSlack(configuration);
                services.AddMassTransitTestHarness(x => x.AddRolloutEngine());
            },
            web => web.MapSlackEndpoints());
        var harness = app.Services.GetRequiredService<ITestHarness>();
        // The web app's start started the harness bus too (a fresh store: nothing to rehydrate).
        var store = app.Services.GetRequiredService<IRolloutStore>();
        async Task<RolloutState> Until(Func<RolloutState, bool> condition)
        {
            for (var i = 0; i < 300; i++)
            {
                var s = (await store.LoadAllAsync(CancellationToken.None)).SingleOrDefault();
                if (s != null && condition(s)) return s;
                await Task.Delay(20);
            }
            throw new Xunit.Sdk.XunitException("rollout did not reach the expected state: " + EngineUnderTest.Describe((await store.LoadAllAsync(CancellationToken.None)).SingleOrDefault()));
        }

        await harness.Bus.Publish(TestPlans.Request(Target, "v2", TestPlans.TenToHundred));
        await Until(s => s.AppliedWeight == 10 && s.Pending == null);
        await harness.Bus.Publish(new PauseRollout(RolloutIds.ForTarget(Target), Target, "user:bob", "hold"));
        await Until(s => s.CurrentState == RolloutPhases.Paused);

        var payload = $$"""
            {"type":"block_actions","user":{"id":"{{AllowedUser}}","username":"alice"},
             "actions":[{"type":"button","action_id":"{{SlackNotifier.PromoteActionId}}","block_id":"canaryflow:shop/checkout","value":"shop/checkout"}]}
            """;
        var body = "payload=" + Uri.EscapeDataString(payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, "slack/interactions") { Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded") };
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
        request.Headers.Add("X-Slack-Signature", "v0=" + SecretComparer.HmacSha256Hex(SigningSecret, Encoding.UTF8.GetBytes($"v0:{timestamp}:{body}")));
        var response = await app.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var done = await Until(s => s.CurrentState == RolloutPhases.Succeeded);
        Assert.Contains($"slack:{AllowedUser}", done.LastReason + string.Join(" ", harness.Published.Select<PromoteRollout>().Select(p => p.Context.Message.Actor)));
        Assert.Equal("v2", world[Target].StableRevision);
        Assert.Equal([10, 0], world[Target].AppliedWeights);
    }
}
