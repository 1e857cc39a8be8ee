using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Analysis.Tests.Workloads;

public class DemoWorkloadTests
{
    [Fact]
    public async Task Exactly_the_configured_share_of_requests_fail_and_are_exported_with_Istio_labels()
    {
        await using var canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions("shop", "podinfo", new WorkloadBehaviour(ErrorRate: 0.2)));
        var result = await LoadGenerator.RunAsync(new LoadPlan(canary.Address, null, 0, 50, TimeSpan.FromSeconds(30)));

        Assert.Equal(50, result.Sent);
        Assert.Equal(10, result.ServerErrors);
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(canary.Address, "metrics"));
        Assert.Contains("istio_requests_total{reporter=\"destination\",source_workload=\"loadgen\",destination_workload=\"podinfo\",destination_workload_namespace=\"shop\"", metrics);
        Assert.Contains("response_code=\"503\"} 10", metrics);
        Assert.Contains("response_code=\"200\"} 40", metrics);
        Assert.Contains("istio_request_duration_milliseconds_bucket{", metrics);
    }

    [Fact]
    public async Task The_load_generator_splits_requests_by_the_canary_weight()
    {
        await using var stable = await DemoWorkload.StartAsync(new DemoWorkloadOptions("shop", "podinfo-primary"));
        await using var canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions("shop", "podinfo"));
        var result = await LoadGenerator.RunAsync(new LoadPlan(stable.Address, canary.Address, 25, 100, TimeSpan.FromSeconds(30), Concurrency: 4));

        Assert.Equal((25, 75), (result.ToCanary, result.ToStable));
        Assert.Equal((25L, 75L), (canary.RequestsServed, stable.RequestsServed));
    }

    [Fact]
    public async Task Behaviour_can_change_while_running()
    {
        await using var canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions("shop", "podinfo"));
        Assert.Equal(0, (await LoadGenerator.RunAsync(new LoadPlan(canary.Address, null, 0, 10, TimeSpan.FromSeconds(30)))).ServerErrors);
        canary.Behaviour = new WorkloadBehaviour(ErrorRate: 1);
        Assert.Equal(10, (await LoadGenerator.RunAsync(new LoadPlan(canary.Address, null, 0, 10, TimeSpan.FromSeconds(30)))).ServerErrors);
    }

    [Theory]
    [InlineData("http://192.0.2.1:8080/")] // TEST-NET-1: never contacted, refused before any request
    [InlineData("http://example.com/")]
    public async Task The_load_generator_refuses_anything_but_loopback(string address)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => LoadGenerator.RunAsync(new LoadPlan(new Uri(address), null, 0, 1, TimeSpan.FromSeconds(1))));
    }

    [Fact]
    public void Invalid_behaviour_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadBehaviour(ErrorRate: 1.5).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadBehaviour(ErrorStatusCode: 200).Validate());
    }
}
