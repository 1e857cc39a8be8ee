using System.Net;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s.Autorest;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The CRD's schema for the sequential mode (manifests/crd), applied at admission by the sandbox and by the real
/// kube-apiserver alike: every field admitted as written, values outside it refused with 422.</summary>
public abstract class SequentialSchemaContract(KubeServer server) : TwoServerTest(server)
{
    [Fact]
    public async Task A_sequential_Canary_with_every_field_is_admitted_as_written()
    {
        await CreateAsync("""{"mode":"sequential","metricsOutageDeadline":"10m","sequential":{"alpha":0.05,"tolerance":0.1,"tick":"5s","firstLook":"2s","holdAt":10,"maxHold":"1m","latencyFloor":"5ms"}}""");
        var analysis = (await Host.GetCanaryAsync("podinfo"))["spec"]!["analysis"]!;
        Assert.Equal("sequential", (string?)analysis["mode"]);
        Assert.Equal("5s", (string?)analysis["sequential"]!["tick"]);
        Assert.Equal("2s", (string?)analysis["sequential"]!["firstLook"]);
        Assert.Equal(10, (double?)analysis["sequential"]!["holdAt"]);
        Assert.Equal("1m", (string?)analysis["sequential"]!["maxHold"]);
        Assert.Equal("5ms", (string?)analysis["sequential"]!["latencyFloor"]);
    }

    [Theory]
    [InlineData("""{"mode":"bayesian"}""")]
    [InlineData("""{"mode":"sequential","sequential":{"alpha":0.9}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"tick":"soon"}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"firstLook":"at once"}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"holdAt":-1}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"holdAt":"ten"}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"maxHold":"one interval"}}""")]
    [InlineData("""{"mode":"sequential","sequential":{"latencyFloor":"5"}}""")]      // no unit: ms or s would be a guess
    [InlineData("""{"mode":"sequential","metricsOutageDeadline":"10 minutes"}""")]
    public async Task A_sequential_Canary_outside_the_schema_is_refused_with_422(string analysis)
    {
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => CreateAsync(analysis));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
    }

    private Task CreateAsync(string analysis) =>
        Host.CreateCanaryAsync("podinfo", "podinfo", new JsonObject { ["analysis"] = JsonNode.Parse(analysis) });
}

public sealed class SequentialSchemaOnSandbox() : SequentialSchemaContract(KubeServer.Sandbox);

[Trait("Category", RealControlPlane.Category)]
[Collection(RealServerOneClassAtATime.Name)]
public sealed class SequentialSchemaOnRealServer() : SequentialSchemaContract(KubeServer.Real);
