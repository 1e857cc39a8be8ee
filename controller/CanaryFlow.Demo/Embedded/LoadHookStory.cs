using System.Text.Json.Nodes;
using CanaryFlow.Contracts;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Workloads;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace CanaryFlow.Demo.Embedded;

/// <summary>
/// The fourth story: a healthy release whose only traffic comes from the controller's built-in load-generator hook
/// (<c>type: rollout</c> with <c>load</c>), not from the simulated users. The hook sends GETs to the service's
/// address; <see cref="MeshIngress"/> plays Istio there, splitting them by the VirtualService weights. Analysed the
/// default way (sequential: a check every second, a step passes once its interval holds enough evidence).
/// </summary>
public static class LoadHookStory
{
    public static DemoStory Story { get; } = new("search", RolloutPhases.Succeeded, ApprovalGate: false, Faulty: false);

    /// <summary>Bounded: 40 requests a second while the rollout runs, each call of the hook extending it by 8 s.</summary>
    public const int RequestsPerSecond = 40;

    public static string Describe => $"a healthy release whose only traffic is the load-generator hook ({RequestsPerSecond}/s), analysed sequentially";

    public static JsonObject CanaryManifest(DemoService service, TimeSpan interval, Uri serviceAddress)
    {
        var canary = service.Story.CanaryManifest(DemoService.Namespace, DemoService.Port, DemoService.Tuning(interval));
        var analysis = canary["spec"]!["analysis"]!.AsObject();
        analysis.Remove("mode"); // the default: sequential
        analysis["stepWeight"] = 25;
        analysis["sequential"] = new JsonObject { ["tick"] = "1s" };
        canary["spec"]!["hooks"] = new JsonArray(new JsonObject
        {
            ["name"] = "load", ["type"] = HookTypes.Rollout,
            ["load"] = new JsonObject { ["url"] = serviceAddress.ToString(), ["requestsPerSecond"] = RequestsPerSecond, ["duration"] = "8s" },
        });
        return canary;
    }
}

/// <summary>The service address of one demo service: each GET goes to its stable or canary process by the weights the
/// controller set (read from the sandbox VirtualService), as the mesh would route it. Bounded by its callers' rate.</summary>
public sealed class MeshIngress : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Lock _gate = new();
    private double _carry;

    private MeshIngress(WebApplication app) => _app = app;

    public Uri Address => LoopbackApp.AddressOf(_app);

    public static async Task<MeshIngress> StartAsync(DemoService service, Func<int> canaryWeight)
    {
        var app = LoopbackApp.CreateBuilder().Build();
        var ingress = new MeshIngress(app);
        app.MapGet("/", async (HttpContext context) =>
        {
            var to = ingress.ToCanary(canaryWeight()) ? service.Canary : service.Stable;
            try
            {
                using var answer = await ingress._http.GetAsync(to.Address, context.RequestAborted);
                context.Response.StatusCode = (int)answer.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { context.Response.StatusCode = 502; }
        });
        await app.StartAsync();
        return ingress;
    }

    // The same share as the weight, spread evenly (as the simulated mesh does), not left to chance.
    private bool ToCanary(int weight)
    {
        lock (_gate)
        {
            _carry += weight / 100.0;
            if (_carry < 1) return false;
            _carry -= 1;
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _http.Dispose();
    }
}
