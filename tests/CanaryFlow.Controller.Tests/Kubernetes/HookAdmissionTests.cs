using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Autorest;
using MassTransit.Testing;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>
/// <c>spec.hooks</c> through the Canary API as the CRD defines it: admitted when sound, refused with the rule's message
/// when not (the same on the sandbox and on the real kube-apiserver), read back into hooks of the plan; and a hook's
/// outcome lands in the Canary's status and Events.
/// </summary>
public abstract class HookAdmissionContract(KubeServer server) : TwoServerTest(server)
{
    private static readonly JsonNode Sound = JsonNode.Parse("""
        [{"name":"smoke","type":"pre-rollout","url":"http://tests.shop/smoke","timeout":"30s","metadata":{"suite":"smoke"}},
         {"name":"load","type":"rollout","load":{"url":"http://checkout.shop/","requestsPerSecond":20,"duration":"2m"}},
         {"name":"change-board","type":"confirm-promotion","url":"https://cab.example.com/approve"}]
        """)!;

    [Fact]
    public async Task Sound_hooks_are_admitted_and_become_the_plans_hooks()
    {
        await Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["hooks"] = Sound.DeepClone() });

        var canary = CanaryResource.FromObject(await Host.GetCanaryAsync("podinfo"));
        var plan = CanaryPlanMapper.Map(canary).Plan!;
        Assert.Equal(["smoke", "load", "change-board"], plan.Hooks!.Select(h => h.Name));
        Assert.Equal(TimeSpan.FromSeconds(30), plan.Hooks![0].Timeout);
        Assert.Equal("smoke", plan.Hooks[0].Metadata!["suite"]);
        Assert.Equal(new LoadSpec("http://checkout.shop/", 20, TimeSpan.FromMinutes(2)), plan.Hooks[1].Load);
        Assert.Equal(CanaryHookMapper.DefaultTimeout, plan.Hooks[2].Timeout);
    }

    public static TheoryData<string, string, string> Violations => new()
    {
        { """[{"name":"a","type":"rollout","url":"http://x/","load":{"url":"http://y/"}}]""", "spec.hooks[0]", "\"object\": a hook has either url or load" },
        { """[{"name":"a","type":"pre-rollout","load":{"url":"http://y/"}}]""", "spec.hooks[0]", "\"object\": the load generator is a rollout hook" },
        { """[{"name":"a","type":"event","url":"http://x/"},{"name":"a","type":"rollback","url":"http://y/"}]""", "spec.hooks", "\"array\": hook names must be unique" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task A_hook_that_breaks_a_rule_is_refused_with_422_at_its_field(string hooks, string field, string message)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["hooks"] = JsonNode.Parse(hooks) }));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        var cause = Assert.Single(JsonNode.Parse(refused.Response.Content)!["details"]!["causes"]!.AsArray())!;
        Assert.Equal(field, (string?)cause["field"]);
        Assert.Equal($"Invalid value: {message}", (string?)cause["message"]);
    }

    [Fact]
    public async Task A_hook_type_that_does_not_exist_is_refused_by_the_schema()
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Host.CreateCanaryAsync("podinfo", "podinfo",
            new JsonObject { ["hooks"] = JsonNode.Parse("""[{"name":"a","type":"pre-promotion","url":"http://x/"}]""") }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("spec.hooks[0].type: Unsupported value: \"pre-promotion\"", (string?)JsonNode.Parse(refused.Response.Content)!["message"]);
    }

    [Fact]
    public async Task A_hooks_outcome_is_kept_in_the_status_and_told_by_an_Event_once_per_change_at_a_gate()
    {
        await Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["hooks"] = Sound.DeepClone() });
        var harness = Host.Get<ITestHarness>();
        await harness.Start();
        var target = new RolloutTarget(Ns, "podinfo");
        HookCompleted Outcome(string outcome, string detail) =>
            new(RolloutIds.ForTarget(target), Guid.NewGuid(), target, "change-board", HookTypes.ConfirmPromotion, outcome, detail, DateTimeOffset.UtcNow);

        // One at a time, as a gate is asked (once per interval).
        foreach (var (outcome, detail) in new[] { (HookOutcomes.Failed, "answered 403: no"), (HookOutcomes.Failed, "answered 403: not yet"), (HookOutcomes.Ok, "answered 200") })
        {
            await harness.Bus.Publish(Outcome(outcome, detail));
            await KubeTestHost.EventuallyAsync(async () =>
                (string?)(await Host.GetCanaryAsync("podinfo"))["status"]?["hooks"]?[0]?["message"] == detail, $"'{detail}' in the status");
        }
        var entry = (await Host.GetCanaryAsync("podinfo"))["status"]!["hooks"]!.AsArray().Single()!;
        Assert.Equal(("change-board", "confirm-promotion", "answered 200"), ((string?)entry["name"], (string?)entry["type"], (string?)entry["message"]));
        await KubeTestHost.EventuallyAsync(async () => (await HookEventsAsync()).Count == 2, "one Event per change");
        var events = await HookEventsAsync();
        Assert.Equal(["HookFailed", "HookOk"], events.Select(e => e.Reason).Order());
        Assert.Equal("Warning", events.Single(e => e.Reason == "HookFailed").Type);
    }

    private async Task<List<k8s.Models.Corev1Event>> HookEventsAsync() =>
        (await Host.Client.CoreV1.ListNamespacedEventAsync(Ns)).Items
            .Where(e => e.InvolvedObject.Name == "podinfo" && e.Reason.StartsWith("Hook", StringComparison.Ordinal)).ToList();
}

public sealed class HookAdmissionOnSandbox() : HookAdmissionContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class HookAdmissionOnRealServer() : HookAdmissionContract(KubeServer.Real);
