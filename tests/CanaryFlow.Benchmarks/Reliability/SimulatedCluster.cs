using System.Diagnostics;
using CanaryFlow.Sandbox.Kubernetes;
using CanaryFlow.Sandbox.Workloads;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// What survives a controller kill, as a cluster would: the sandbox Kubernetes API, a mesh whose
/// Istio-style metrics are synthesised from the VirtualService weights and each version's behaviour
/// (no HTTP per request at this scale), exported over one scrape target or several (<see cref="DefaultServicesPerTarget"/>),
/// and a real Prometheus scraping them.
/// </summary>
public sealed class SimulatedCluster : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _mesh = Task.CompletedTask;

    private SimulatedCluster(SandboxKubernetesServer api, MeshScrapeTargets exporter, PrometheusProcess prometheus, IReadOnlyList<BenchService> services, Stopwatch clock,
        int servicesPerTarget)
    {
        ServicesPerTarget = servicesPerTarget;
        Api = api;
        Exporter = exporter;
        Prometheus = prometheus;
        Services = services;
        Clock = clock;
        Weights = new WeightRecorder(api.Store, clock);
        api.Store.Committed += Remember;
    }

    // The latest committed version of every object, kept from the commit feed: reading the store itself
    // (a linear scan and a deep copy per read) costs too much at a thousand services.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(ResourceKind, string, string), StoredEvent> _latest = new();

    private void Remember(StoredEvent e)
    {
        var key = (e.Kind, e.Namespace, (string?)e.Object["metadata"]?["name"] ?? "");
        if (e.Type == "DELETED") { _latest.TryRemove(key, out _); return; }
        e = e with { Object = (System.Text.Json.Nodes.JsonObject)e.Object.DeepClone() }; // ours alone: read only under _readGate
        _latest.AddOrUpdate(key, e, (_, old) => old.ResourceVersion < e.ResourceVersion ? e : old);
    }

    public SandboxKubernetesServer Api { get; }
    public MeshScrapeTargets Exporter { get; }
    public PrometheusProcess Prometheus { get; }
    public IReadOnlyList<BenchService> Services { get; }
    public Stopwatch Clock { get; }
    public WeightRecorder Weights { get; }
    public ObjectStore Store => Api.Store;

    /// <summary>Requests each service receives per mesh tick (4 ticks a second).</summary>
    public int RequestsPerTick { get; init; } = 25;

    /// <summary>Services per scrape target, by default all on one (~50 series a service: two workloads, a histogram of 19
    /// buckets each; ~152k series at 3,000 services). Spreading them as a mesh's pods do (e.g. 100 a target, ~5,000 series
    /// each) kept the 2 s scrape interval, but this machine's Prometheus then answered queries ~9× slower and the 3,000-run
    /// ended fewer (docs/benchmarks.md, "The harness mesh over many scrape targets"): one target stays the default until
    /// that is understood.</summary>
    public const int DefaultServicesPerTarget = 1_000_000;

    public int ServicesPerTarget { get; }

    public static async Task<SimulatedCluster> StartAsync(IReadOnlyList<BenchService> services, Stopwatch? clock = null, TimeSpan? scrapeInterval = null,
        int servicesPerTarget = DefaultServicesPerTarget, bool latencySeries = true)
    {
        var api = await SandboxKubernetesServer.StartAsync(new SandboxKubernetesOptions(ReadyDelay: TimeSpan.FromMilliseconds(500)));
        var exporter = await MeshScrapeTargets.StartAsync((services.Count + servicesPerTarget - 1) / servicesPerTarget, latencySeries);
        var prometheus = await PrometheusProcess.StartAsync(exporter.ScrapeTargets, scrapeInterval);
        var cluster = new SimulatedCluster(api, exporter, prometheus, services, clock ?? Stopwatch.StartNew(), servicesPerTarget);
        foreach (var s in services) api.Store.Create(ResourceKinds.Deployments, s.Namespace, s.DeploymentManifest());
        cluster._mesh = cluster.RunMeshAsync(cluster._stop.Token);
        return cluster;
    }

    public void CreateCanaries()
    {
        foreach (var s in Services) Store.Create(ResourceKinds.Canaries, s.Namespace, s.CanaryManifest());
    }

    /// <summary>The revision the controller recorded as stable when it initialised the Canary (null before):
    /// a release before this would be taken for the baseline.</summary>
    public string? StableRevision(BenchService s) => Read(ResourceKinds.Canaries, s.Namespace, s.Name, o => (string?)o["status"]?["stableRevision"]);

    /// <summary>The final phase of the rollout of a revision other than <paramref name="initialRevision"/>, or null while it runs.</summary>
    public string? FinalPhase(BenchService s, string initialRevision)
    {
        var (phase, revision) = Read(ResourceKinds.Canaries, s.Namespace, s.Name, o => ((string?)o["status"]?["phase"], (string?)o["status"]?["canaryRevision"]));
        return revision is not null && revision != initialRevision && phase is "Succeeded" or "Failed" ? phase : null;
    }

    /// <summary>The Canary's phase and status message now (the message says why it ended, or what it waits on).</summary>
    public (string? Phase, string? Message) PhaseAndMessage(BenchService s) =>
        Read(ResourceKinds.Canaries, s.Namespace, s.Name, o => ((string?)o["status"]?["phase"], (string?)o["status"]?["message"]));

    /// <summary>The release: a new image in the target Deployment, as CI would push it.</summary>
    public void Release(BenchService s) =>
        Store.Patch(ResourceKinds.Deployments, s.Namespace, s.Name, current =>
        {
            current["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = s.NewImage;
            return current;
        }, statusOnly: false);

    public int InconclusiveChecks(BenchService s) => Read(ResourceKinds.Canaries, s.Namespace, s.Name, o => (int?)o["status"]?["inconclusiveChecks"] ?? 0);

    public string? ImageOf(string ns, string deployment) =>
        Read(ResourceKinds.Deployments, ns, deployment, o => (string?)o["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"]);

    // JsonNode builds its lookup tables lazily on first read, which is not thread-safe: reads take a lock.
    private readonly Lock _readGate = new();

    private T? Read<T>(ResourceKind kind, string ns, string name, Func<System.Text.Json.Nodes.JsonObject, T> read)
    {
        if (!_latest.TryGetValue((kind, ns, name), out var e)) return default;
        lock (_readGate) return read(e.Object);
    }

    /// <summary>Mesh passes made (one pass serves every service once) and the longest one: at 10,000 services a pass
    /// outlasts the 250 ms tick, which is why traffic is counted from the time elapsed, not per tick.</summary>
    public long MeshPasses => Interlocked.Read(ref _meshPasses);
    public TimeSpan LongestMeshPass { get; private set; }
    private long _meshPasses;

    /// <summary>Each service gets <see cref="RequestsPerTick"/> requests per 250 ms, split by its VirtualService weight;
    /// each side answers as the image its Deployment runs ("faulty": a quarter of them 503). The requests of a pass are
    /// the time elapsed since the last pass times that rate: a pass over 10,000 services takes longer than a tick (the
    /// timer then drops ticks), and counting per tick sent each service a fraction of its traffic, so checks met fewer
    /// requests than their minimum and healthy releases were rolled back (issue 15).</summary>
    private async Task RunMeshAsync(CancellationToken ct)
    {
        var random = new Random(7);
        var carry = new Dictionary<string, (double Canary, double All)>();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var last = Clock.Elapsed;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var now = Clock.Elapsed;
                var perService = RequestsPerTick * (now - last).TotalMilliseconds / 250;
                last = now;
                for (var i = 0; i < Services.Count; i++)
                {
                    var s = Services[i];
                    var target = i / ServicesPerTarget;
                    var (canaryCarry, allCarry) = carry.GetValueOrDefault(s.Name);
                    var all = perService + allCarry;
                    var requests = (int)all;
                    var share = requests * Weights.CurrentWeight(s.Name) / 100.0 + canaryCarry;
                    var toCanary = Math.Min(requests, (int)share);
                    carry[s.Name] = (share - toCanary, all - requests);
                    Serve(target, s.Namespace, s.Name, ImageOf(s.Namespace, s.Name), toCanary, random);
                    Serve(target, s.Namespace, $"{s.Name}-primary", ImageOf(s.Namespace, $"{s.Name}-primary"), requests - toCanary, random);
                }
                Interlocked.Increment(ref _meshPasses);
                if (Clock.Elapsed - now > LongestMeshPass) LongestMeshPass = Clock.Elapsed - now;
            }
        }
        catch (OperationCanceledException) { }
    }

    private void Serve(int target, string ns, string workload, string? image, int requests, Random random)
    {
        if (requests <= 0 || image is null) return;
        var faulty = image.Contains("faulty", StringComparison.Ordinal);
        var errors = faulty ? (int)Math.Round(requests * 0.25 + random.NextDouble() - 0.5) : 0;
        if (errors > 0) Exporter.Record(target, ns, workload, 503, 30, errors);
        if (requests - errors > 0) Exporter.Record(target, ns, workload, 200, 20, requests - errors);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _mesh;
        await Prometheus.DisposeAsync();
        await Exporter.DisposeAsync();
        await Api.DisposeAsync();
    }
}
