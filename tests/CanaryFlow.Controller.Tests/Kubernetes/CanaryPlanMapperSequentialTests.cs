using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Kubernetes.Model;

namespace CanaryFlow.Controller.Tests.Kubernetes;

public sealed class CanaryPlanMapperSequentialTests
{
    private static PlanResult Map(string analysis) => CanaryPlanMapper.Map(JsonSerializer.Deserialize<CanarySpec>(
        $$"""{"targetRef":{"name":"web"},"service":{"port":80},"analysis":{{analysis}}}""", CanaryResource.Json)!);

    [Fact]
    public void Without_a_mode_a_weighted_canary_is_analysed_sequentially_with_the_documented_defaults()
    {
        Assert.Equal(new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(2), SequentialSpec.DefaultHoldAt,
            LatencyFloor: SequentialSpec.DefaultLatencyFloor), Map("""{"interval":"1m"}""").Plan!.Analysis.Sequential);
        Assert.Equal(TimeSpan.FromMinutes(2), Map("""{"sequential":{"tick":"2m"}}""").Plan!.Analysis.Sequential!.Tick);
    }

    [Theory]
    [InlineData("""{"mode":"fixed-window"}""")]
    [InlineData("""{"iterations":3,"match":[{"headers":{"x-beta":{"exact":"yes"}}}]}""")]
    [InlineData("""{"stepWeight":50,"mirror":{"iterations":2}}""")]
    public void Fixed_windows_stay_when_asked_for_and_for_A_B_testing_and_mirroring_by_default(string analysis)
    {
        var plan = Map(analysis);
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Null(plan.Plan!.Analysis.Sequential);
    }

    [Fact]
    public void Sequential_mode_gets_the_documented_defaults()
    {
        var sequential = Map("""{"mode":"sequential"}""").Plan!.Analysis.Sequential;
        Assert.Equal(new SequentialSpec(0.05, 0.1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(2), SequentialSpec.DefaultHoldAt,
            LatencyFloor: SequentialSpec.DefaultLatencyFloor), sequential);
    }

    [Fact]
    public void Sequential_mode_maps_every_field()
    {
        var sequential = Map("""{"mode":"sequential","metricsOutageDeadline":"15m","sequential":{"alpha":0.01,"tolerance":0.25,"tick":"10s","firstLook":"3s","holdAt":20,"maxHold":"90s","latencyFloor":"10ms"}}""").Plan!.Analysis.Sequential;
        Assert.Equal(new SequentialSpec(0.01, 0.25, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(3), 20, TimeSpan.FromSeconds(90),
            TimeSpan.FromMilliseconds(10)), sequential);
    }

    [Theory]
    [InlineData("0ms")]
    [InlineData("0s")]
    public void A_latency_floor_of_zero_turns_the_floor_off(string floor) =>
        Assert.Equal(TimeSpan.Zero, Map("""{"mode":"sequential","sequential":{"latencyFloor":"FLOOR"}}""".Replace("FLOOR", floor)).Plan!.Analysis.Sequential!.LatencyFloor);

    [Theory]
    [InlineData("""{"mode":"bayesian"}""", "spec.analysis.mode must be fixed-window or sequential")]
    [InlineData("""{"mode":"fixed-window","sequential":{"alpha":0.01}}""", "apply to mode: sequential only")]
    [InlineData("""{"mode":"sequential","sequential":{"alpha":1.5}}""", "alpha must be between 0 and 1")]
    [InlineData("""{"mode":"sequential","sequential":{"tick":"500ms"}}""", "tick must be at least 1s")]
    [InlineData("""{"mode":"sequential","sequential":{"firstLook":"500ms"}}""", "firstLook must be at least 1s")]
    [InlineData("""{"mode":"sequential","metricsOutageDeadline":"soon"}""", "metricsOutageDeadline \"soon\" is not a positive duration")]
    [InlineData("""{"mode":"sequential","sequential":{"holdAt":-1}}""", "holdAt must be an e-value >= 0")]
    [InlineData("""{"mode":"sequential","sequential":{"maxHold":"0s"}}""", "sequential.maxHold \"0s\" is not a positive duration")]
    [InlineData("""{"mode":"sequential","sequential":{"latencyFloor":"fast"}}""", "sequential.latencyFloor \"fast\" is not a positive duration")]
    public void Bad_sequential_settings_are_refused_with_the_field_named(string analysis, string error)
    {
        var result = Map(analysis);
        Assert.Null(result.Plan);
        Assert.Contains(result.Errors, e => e.Contains(error));
    }
}
