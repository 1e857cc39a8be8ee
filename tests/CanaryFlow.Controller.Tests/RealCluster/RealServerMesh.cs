using CanaryFlow.Demo.Embedded;
using CanaryFlow.Sandbox.Workloads;
using k8s;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// The simulated Istio mesh for one service on the real API server: two demo workloads (the stable pods of
/// <c>NAME-primary</c> and the canary pods of <c>NAME</c>) that export Istio's standard metrics, and a bounded stream of
/// real HTTP requests split between them by the VirtualService weight the server holds (<see cref="WeightRecorder"/>).
/// Each workload behaves as the image its Deployment on the server runs (the demo's images: "faulty" answers 25% 5xx).
/// </summary>
public sealed class RealServerMesh : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly string _ns, _service;
    private readonly WeightRecorder _weights;
    private readonly int _requestsPerSecond;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private RealServerMesh(IKubernetes client, string ns, string service, WeightRecorder weights, int requestsPerSecond, DemoWorkload stable, DemoWorkload canary)
    {
        (_client, _ns, _service, _weights, _requestsPerSecond, Stable, Canary) = (client, ns, service, weights, requestsPerSecond, stable, canary);
    }

    public DemoWorkload Stable { get; }
    public DemoWorkload Canary { get; }
    public IEnumerable<string> ScrapeTargets => [Stable.ScrapeTarget, Canary.ScrapeTarget];

    public static async Task<RealServerMesh> StartAsync(IKubernetes client, string ns, string service, WeightRecorder weights, int requestsPerSecond)
    {
        var stable = await DemoWorkload.StartAsync(new DemoWorkloadOptions(ns, $"{service}-primary", Service: service));
        var canary = await DemoWorkload.StartAsync(new DemoWorkloadOptions(ns, service, Service: service));
        var mesh = new RealServerMesh(client, ns, service, weights, requestsPerSecond, stable, canary);
        mesh._loop = Task.Run(mesh.LoopAsync);
        return mesh;
    }

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var perTick = Math.Max(1, _requestsPerSecond / 10);
        var carry = 0.0;
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                if (tick++ % 5 == 0) await FollowImagesAsync(ct);
                var share = perTick * _weights.Current / 100.0 + carry;
                var toCanary = (int)share;
                carry = share - toCanary;
                await Task.WhenAll(Enumerable.Range(0, perTick).Select(i => SendAsync(i < toCanary ? Canary : Stable, ct)));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    /// <summary>The pods run what their Deployment's template says: a release changes the canary's behaviour, a promotion the stable's.</summary>
    private async Task FollowImagesAsync(CancellationToken ct)
    {
        try
        {
            var list = await _client.AppsV1.ListNamespacedDeploymentAsync(_ns, cancellationToken: ct);
            string? Image(string name) => list.Items.FirstOrDefault(d => d.Metadata.Name == name)?.Spec.Template.Spec.Containers[0].Image;
            Stable.Behaviour = DemoService.BehaviourOf(Image($"{_service}-primary"));
            Canary.Behaviour = DemoService.BehaviourOf(Image(_service));
        }
        catch (k8s.Autorest.HttpOperationException) { } // the next pass reads again
        catch (HttpRequestException) { }
    }

    private async Task SendAsync(DemoWorkload to, CancellationToken ct)
    {
        try { using var _ = await _http.GetAsync(to.Address, ct); }
        catch (HttpRequestException) { }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _http.Dispose();
        await Stable.DisposeAsync();
        await Canary.DisposeAsync();
    }
}
