using System.Net;
using System.Text.Json.Nodes;
using k8s.Autorest;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The CRD's schema for the sequential mode, applied at admission by the sandbox as by an API server.</summary>
public sealed class SandboxSequentialSchemaTests : SandboxTest
{
    [Fact]
    public async Task A_sequential_Canary_with_every_field_is_admitted_as_written()
    {
        await CreateAsync("""{"mode":"sequential","metricsOutageDeadline":"10m","sequential":{"alpha":0.05,"tolerance":0.1,"tick":"5s","firstLook":"2s"}}""");
        var analysis = (await Host.GetCanaryAsync("podinfo"))["spec"]!["analysis"]!;
        Assert.Equal("sequential", (string?)analysis["mode"]);
        Assert.Equal("5s", (string?)analysis["sequential"]!["tick"]);
        Assert.Equal("2s", (string?)analysis["sequential"]!["firstLook"]);
    }

    [Theory]
    [InlineData("""{"mode":"bayesian"}""")]
    [InlineData("""{"mode":"sequential","sequential":{"alpha":0.9}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"tick":"soon"}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"firstLook":"at once"}}""")]
    [InlineData("""{"mode":"sequential","metricsOutageDeadline":"10 minutes"}""")]
    public async Task A_sequential_Canary_outside_the_schema_is_refused_with_422(string analysis)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateAsync(analysis));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
    }

    private Task CreateAsync(string analysis) =>
        Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["analysis"] = JsonNode.Parse(analysis) });
}
