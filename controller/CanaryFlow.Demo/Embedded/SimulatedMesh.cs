using System.Text.Json.Nodes;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Demo.Embedded;

/// <summary>
/// The demo's Istio: reads each VirtualService from the sandbox API and really splits a bounded stream
/// of requests between the stable and canary processes by its weights; each process behaves as the
/// image its Deployment runs. Bounded in rate (requests per second) and in time (the demo's limit).
/// </summary>
public sealed class SimulatedMesh(ObjectStore cluster, IReadOnlyList<DemoService> services, int requestsPerSecond)
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Dictionary<string, double> _carry = [];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var perTick = Math.Max(1, requestsPerSecond / 10);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            var sends = new List<Task>();
            foreach (var service in services)
            {
                service.Stable.Behaviour = DemoService.BehaviourOf(ImageOf($"{service.Name}-primary"));
                service.Canary.Behaviour = DemoService.BehaviourOf(ImageOf(service.Name));
                var canaryShare = perTick * CanaryWeight(service.Name) / 100.0 + _carry.GetValueOrDefault(service.Name);
                var toCanary = (int)canaryShare;
                _carry[service.Name] = canaryShare - toCanary;
                for (var i = 0; i < perTick; i++)
                    sends.Add(SendAsync(i < toCanary ? service.Canary : service.Stable, cancellationToken));
            }
            await Task.WhenAll(sends);
        }
    }

    private async Task SendAsync(DemoWorkload to, CancellationToken cancellationToken)
    {
        try { using var _ = await _http.GetAsync(to.Address, cancellationToken); }
        catch (HttpRequestException) { }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested) { }
    }

    private string? ImageOf(string deployment)
    {
        try
        {
            var d = cluster.Get(ResourceKinds.Deployments, DemoService.Namespace, deployment);
            return d["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]?.GetValue<string>();
        }
        catch (Exception) { return null; } // not created yet
    }

    /// <summary>The canary's share in the VirtualService route to the service (0 before routing exists).</summary>
    public int CanaryWeight(string service)
    {
        var (items, _) = cluster.List(ResourceKinds.VirtualServices, DemoService.Namespace, LabelSelector.Parse(null));
        foreach (var vs in items)
            foreach (var http in vs["spec"]?["http"]?.AsArray() ?? [])
                foreach (var route in http?["route"]?.AsArray() ?? [])
                    if (route?["destination"]?["host"]?.GetValue<string>() == service && route["destination"]?["subset"]?.GetValue<string>() == "canary")
                        return route["weight"]?.GetValue<int>() ?? 0;
        return 0;
    }
}
