using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>Hooks that got past admission (no CRD schema on the cluster, an older CRD) are reported, never mapped.</summary>
public sealed class CanaryHookMapperTests
{
    private static List<string> Errors(params CanaryHook[] hooks)
    {
        var errors = new List<string>();
        CanaryHookMapper.Map(hooks, errors);
        return errors;
    }

    [Fact]
    public void Every_problem_of_a_hook_is_named_with_its_field()
    {
        var errors = Errors(
            new CanaryHook("a", "pre-promotion", "http://x/", null, null, null),
            new CanaryHook("a", HookTypes.Event, "ftp://x/", "soon", null, null),
            new CanaryHook("b", HookTypes.Rollback, null, null, null, new CanaryLoad("http://y/", 500, null)));

        Assert.Contains(errors, e => e.StartsWith("spec.hooks[0].type must be one of pre-rollout,"));
        Assert.Contains("spec.hooks[1].name \"a\" is used by another hook", errors);
        Assert.Contains("spec.hooks[1].url \"ftp://x/\" is not an absolute http(s) URL", errors);
        Assert.Contains("spec.hooks[1].timeout \"soon\" is not a duration such as 500ms, 10s or 1m", errors);
        Assert.Contains("spec.hooks[2].load: the load generator is a rollout hook, not rollback", errors);
        Assert.Contains("spec.hooks[2].load.requestsPerSecond must be 1..100, got 500", errors);
    }

    [Fact]
    public void A_spec_with_a_bad_hook_has_no_plan()
    {
        var spec = new CanarySpec(new TargetRef("podinfo"), new ServiceSpec(null, 80, null, null), null, null, null, null,
            Hooks: [new CanaryHook("x", HookTypes.ConfirmPromotion, null, null, null, null)]);
        var result = CanaryPlanMapper.Map(spec);
        Assert.Null(result.Plan);
        Assert.Equal(["spec.hooks[0]: give either url or load"], result.Errors);
    }
}
