using System.Diagnostics;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Demo.Stories;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Demo.Embedded;

/// <summary>
/// The whole story on embedded defaults: a sandbox Kubernetes API, a simulated mesh splitting real requests
/// by the VirtualService weights, demo workloads scraped by a real Prometheus on 127.0.0.1, and the CanaryFlow
/// controller driving three releases at once.
/// </summary>
public static class EmbeddedDemo
{
    /// <summary>The whole run is bounded: whatever has not ended by then is reported as timed out.</summary>
    private static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(5);

    public static async Task<int> RunAsync(DemoArgs args)
    {
        var bus = args.Bus();
        var interval = TimeSpan.FromSeconds(args.Int("--interval-seconds", 4, 1, 600));
        if (!await PrometheusInstaller.EnsureAsync()) return 1;
        var work = Directory.CreateTempSubdirectory("canaryflow-demo-").FullName;
        var clock = Stopwatch.StartNew();
        var inventory = new DemoService(AutoscaledStory.Story);
        var simulated = DemoService.All.Append(inventory).ToList(); // their users are the simulated mesh's
        var search = new DemoService(LoadHookStory.Story); // its only traffic is the load-generator hook's
        var services = simulated.Append(search).ToList();

        Console.WriteLine($"CanaryFlow demo — {services.Count} releases, judged by Prometheus on real traffic:");
        foreach (var s in DemoService.All) Console.WriteLine($"  {s.Name,-9} {s.Story.Describe(DemoService.Tuning(interval), DemoService.Fault)}");
        Console.WriteLine($"  {inventory.Name,-9} {AutoscaledStory.Describe}");
        Console.WriteLine($"  {search.Name,-9} {LoadHookStory.Describe}");

        await using var cluster = await SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromSeconds(1)));
        foreach (var s in services)
        {
            await s.StartWorkloadsAsync();
            cluster.Store.Create(ResourceKinds.Deployments, DemoService.Namespace, s.DeploymentManifest());
        }
        cluster.Store.Create(ResourceKinds.HorizontalPodAutoscalers, DemoService.Namespace, AutoscaledStory.AutoscalerManifest());
        await using var prometheus = await PrometheusProcess.StartAsync(services.SelectMany(s => new[] { s.Stable.ScrapeTarget, s.Canary.ScrapeTarget }));
        Console.WriteLine($"Sandbox Kubernetes API {cluster.BaseAddress} · Prometheus {prometheus.Address}");

        await using var controller = await DemoController.StartAsync(bus, work, new Dictionary<string, string?>
        {
            ["Kubernetes:KubeconfigPath"] = cluster.KubeconfigPath,
            ["Kubernetes:Namespaces:0"] = DemoService.Namespace,
            ["Kubernetes:LeaderElection"] = "false",
            ["Kubernetes:PollInterval"] = "00:00:00.250",
            ["Prometheus:Address"] = prometheus.Address.ToString(),
        });
        Console.WriteLine($"Controller on {bus.Name} bus · status page {controller.StatusPage}/");

        using var stop = new CancellationTokenSource(TimeLimit);
        var mesh = new SimulatedMesh(cluster.Store, simulated, requestsPerSecond: 60);
        var traffic = mesh.RunAsync(stop.Token);
        await using var ingress = await MeshIngress.StartAsync(search, () => mesh.CanaryWeight(search.Name));

        foreach (var s in DemoService.All) cluster.Store.Create(ResourceKinds.Canaries, DemoService.Namespace, s.CanaryManifest(interval));
        cluster.Store.Create(ResourceKinds.Canaries, DemoService.Namespace, AutoscaledStory.CanaryManifest(inventory, interval));
        cluster.Store.Create(ResourceKinds.Canaries, DemoService.Namespace, LoadHookStory.CanaryManifest(search, interval, ingress.Address));
        await WaitForAsync(() => cluster.Store.List(ResourceKinds.Deployments, DemoService.Namespace, LabelSelector.Parse(null)).Items.Count >= services.Count * 2,
            "the stable copies (<name>-primary) and routing", stop.Token);
        await Task.Delay(interval, stop.Token); // some traffic on the stable version first

        Console.WriteLine("New images pushed: " + string.Join(", ", services.Select(s => s.NewImage)));
        foreach (var s in services)
        {
            cluster.Store.Patch(ResourceKinds.Deployments, DemoService.Namespace, s.Name, current =>
            {
                current["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = s.NewImage;
                return current;
            }, statusOnly: false);
        }

        using var prometheusClient = new PrometheusClient(new PrometheusOptions { Address = prometheus.Address.ToString() }, TimeProvider.System);
        var figures = new MeshFigures(prometheusClient);
        var runner = new StoryRunner(services.Select(s => s.Story).ToList(), controller.Api, controller.Bus, figures.ReadAsync);
        var finished = await runner.RunAsync(stop.Token);
        await stop.CancelAsync();
        try { await traffic; } catch (OperationCanceledException) { }

        var outcomes = services.Select(s => new StoryOutcome(s.Story, finished.GetValueOrDefault(s.Name),
            StableImage(cluster.Store, s), mesh.CanaryWeight(s.Name))).ToList();
        var autoscaler = AutoscaledStory.PrimaryAutoscaler(cluster.Store);
        Console.WriteLine(autoscaler is null ? $"{inventory.Name}: the primary has no HPA copy of its own (expected one)" : $"{inventory.Name}: {autoscaler}");
        return Summary.Print(outcomes, controller.ReportsDirectory, clock.Elapsed) && autoscaler is not null ? 0 : 1;
    }

    private static string StableImage(ObjectStore store, DemoService s) =>
        store.Get(ResourceKinds.Deployments, DemoService.Namespace, $"{s.Name}-primary")["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>();

    private static async Task WaitForAsync(Func<bool> condition, string what, CancellationToken ct)
    {
        while (!condition())
        {
            if (ct.IsCancellationRequested) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(200, ct);
        }
    }
}
