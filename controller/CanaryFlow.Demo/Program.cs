using System.Diagnostics;
using System.Net.Http.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Hosting;
using CanaryFlow.Demo;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Workloads;
using MassTransit;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// The whole story on embedded defaults: a sandbox Kubernetes API, a simulated mesh splitting real
// requests by the VirtualService weights, demo workloads scraped by a real Prometheus on 127.0.0.1,
// and the CanaryFlow controller driving three releases at once.
//   --bus rabbitmq [--rabbitmq-port 5672]   run the controller's bus on a RabbitMQ on 127.0.0.1
//   --interval-seconds 4                    analysis interval
var busKind = Arg("--bus", "inmemory");
var interval = TimeSpan.FromSeconds(int.Parse(Arg("--interval-seconds", "4")));
var timeLimit = TimeSpan.FromMinutes(5);
if (args.Contains("--kubeconfig"))
{
    Console.Error.WriteLine("Against a real cluster, run the controller itself: `dotnet run --project controller/CanaryFlow.Controller " +
                            "-- --Kubernetes:KubeconfigPath=~/.kube/config --Prometheus:Address=http://prometheus:9090` and apply manifests/examples.");
    return 2;
}

if (!await PrometheusInstaller.EnsureAsync()) return 1;
var work = Directory.CreateTempSubdirectory("canaryflow-demo-").FullName;
var clock = Stopwatch.StartNew();
var services = DemoService.All;

Console.WriteLine("CanaryFlow demo — three releases, judged by Prometheus on real traffic:");
foreach (var s in services) Console.WriteLine($"  {s.Name,-9} {s.Story}");

await using var cluster = await SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromSeconds(1)));
foreach (var s in services)
{
    await s.StartWorkloadsAsync();
    cluster.Store.Create(ResourceKinds.Deployments, DemoService.Namespace, s.DeploymentManifest());
}
await using var prometheus = await PrometheusProcess.StartAsync(services.SelectMany(s => new[] { s.Stable.ScrapeTarget, s.Canary.ScrapeTarget }));
Console.WriteLine($"Sandbox Kubernetes API {cluster.BaseAddress} · Prometheus {prometheus.Address}");

var builder = WebApplication.CreateBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Kubernetes:KubeconfigPath"] = cluster.KubeconfigPath,
    ["Kubernetes:Namespaces:0"] = DemoService.Namespace,
    ["Kubernetes:LeaderElection"] = "false",
    ["Kubernetes:PollInterval"] = "00:00:00.250",
    ["Prometheus:Address"] = prometheus.Address.ToString(),
    ["Bus:Transport"] = busKind == "rabbitmq" ? "RabbitMq" : "InMemory",
    ["Bus:RabbitMq:Port"] = Arg("--rabbitmq-port", "5672"),
    ["Rollouts:StateDirectory"] = Path.Combine(work, "state"),
    ["Rollouts:TickPeriod"] = "00:00:00.200",
    ["Observability:ReportsDirectory"] = Path.Combine(work, "reports"),
    ["Notifications:DataPath"] = Path.Combine(work, "notifications"),
});
builder.AddCanaryFlowController();
await using var controller = builder.Build();
controller.MapCanaryFlowController();
await controller.StartAsync();
var statusPage = controller.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"Controller on {busKind} bus · status page {statusPage}/");

using var stop = new CancellationTokenSource(timeLimit);
var mesh = new SimulatedMesh(cluster.Store, services, requestsPerSecond: 60);
var traffic = mesh.RunAsync(stop.Token);

foreach (var s in services) cluster.Store.Create(ResourceKinds.Canaries, DemoService.Namespace, s.CanaryManifest(interval));
using var http = new HttpClient { BaseAddress = new Uri(statusPage) };
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

var view = new LiveView();
using var prometheusClient = new CanaryFlow.Analysis.Prometheus.PrometheusClient(
    new CanaryFlow.Analysis.Prometheus.PrometheusOptions { Address = prometheus.Address.ToString() }, TimeProvider.System);
var figures = new MeshFigures(prometheusClient);
var meshNow = new Dictionary<string, (double? ErrorPercent, double? P99Ms)>();
var lastMeshRead = DateTime.MinValue;
var bus = controller.Services.GetRequiredService<IBus>();
var approved = false;
var finished = new Dictionary<string, RolloutStatusView>();
while (finished.Count < services.Count && !stop.IsCancellationRequested)
{
    await Task.Delay(300);
    var all = await http.GetFromJsonAsync<List<RolloutStatusView>>("api/rollouts", stop.Token) ?? [];
    if (DateTime.UtcNow - lastMeshRead > TimeSpan.FromSeconds(2))
    {
        try { meshNow = new(await figures.ReadAsync(stop.Token)); } catch (Exception e) when (e is not OperationCanceledException) { }
        lastMeshRead = DateTime.UtcNow;
    }
    foreach (var v in all)
    {
        view.Show(v, LiveView.Mesh(meshNow, v.Target.Name));
        var s = services.First(x => x.Name == v.Target.Name);
        if (v.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed) finished[s.Name] = v;
        if (s.ApprovalGate && v.Phase == RolloutPhases.WaitingApproval && !approved)
        {
            approved = true;
            Console.WriteLine($"{DateTime.Now:HH:mm:ss} {s.Name,-9} waits at its approval gate — sending PromoteRollout as user:demo");
            await bus.Publish(new PromoteRollout(RolloutIds.ForTarget(s.Target), s.Target, "user:demo", "approved in the demo"));
        }
    }
}
await stop.CancelAsync();
try { await traffic; } catch (OperationCanceledException) { }

Console.WriteLine();
Console.WriteLine($"{"service",-9} {"expected",-10} {"outcome",-10} {"stable runs",-26} {"canary",-6} checks failed");
var ok = true;
foreach (var s in services)
{
    finished.TryGetValue(s.Name, out var v);
    var outcome = v?.Phase ?? "timed out";
    ok &= outcome == s.ExpectedPhase;
    var stableImage = cluster.Store.Get(ResourceKinds.Deployments, DemoService.Namespace, $"{s.Name}-primary")["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>();
    Console.WriteLine($"{s.Name,-9} {s.ExpectedPhase,-10} {outcome,-10} {stableImage,-26} {mesh.CanaryWeight(s.Name),3}%   {v?.FailedChecks ?? 0}");
}
var reports = Path.Combine(work, "reports");
Console.WriteLine($"Reports (timeline per rollout): {reports}");
if (Directory.Exists(reports)) foreach (var f in Directory.EnumerateFiles(reports)) Console.WriteLine($"  {f}");
Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F0} s: {(ok ? "every release ended as expected" : "SOME RELEASES DID NOT END AS EXPECTED")}");
await controller.StopAsync();
return ok ? 0 : 1;

string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;

static async Task WaitForAsync(Func<bool> condition, string what, CancellationToken ct)
{
    while (!condition())
    {
        if (ct.IsCancellationRequested) throw new TimeoutException($"timed out waiting for {what}");
        await Task.Delay(200, ct);
    }
}
