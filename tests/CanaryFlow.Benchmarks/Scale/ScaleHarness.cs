using System.Diagnostics;
using System.Globalization;
using CanaryFlow.Benchmarks.Load;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Scale;

/// <summary>
/// Issue 15: N Canaries over several active controller replicas (own processes, sharded by rollout partition), on the
/// sandbox API and a 3-node RabbitMQ cluster (quorum queues) that .ci/services.sh start_rabbitmq_cluster started
/// (CANARYFLOW_RABBITMQ_CLUSTER_PORTS, _DIR). Prints: all ended right, transitions/s, transitions per CPU-second, API
/// requests per transition, query → weight p50/p99, RSS and CPU per replica. With --kill: once a fifth of the rollouts
/// ended, replica 0 is SIGKILLed (and stays dead); once its partitions act again, RabbitMQ node 3 is SIGKILLed too.
/// Then: wrong outcomes, weight sequences with a step twice or skipped, double writers (a partition Lease changing
/// holder while the old holder could still act), and the time until the dead replica's partitions acted again.
/// </summary>
public static class ScaleHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var opt = new BenchArgs(args);
        var (count, interval, limit) = opt.Run(rollouts: 1000, intervalSeconds: 10, limitSeconds: 900);
        var (replicas, partitions, kill) = (opt.Int("--replicas", 3), opt.Int("--partitions", 12), opt.Flag("--kill"));
        // Fewer steps (--step-weight 50: 50, 100) let 10,000 rollouts end in a bounded time on a small machine.
        var stepWeight = opt.Int("--step-weight", 25);
        // After the last rollout ended, the replicas keep running this long: a release rolled out a second time shows then.
        var settle = TimeSpan.FromSeconds(opt.Int("--settle-s", 60));
        // --pause-s N: once a fifth of the rollouts ended, replica 0 is frozen (SIGSTOP) for N s, as a long GC pause or a
        // starved CPU would: past the Lease duration its partitions move to the others, and move again once it is back.
        var pause = TimeSpan.FromSeconds(opt.Int("--pause-s", 0));
        // The mesh's series over one scrape target per this many services (the total, e.g. 3000, gives the one target of before).
        var servicesPerTarget = opt.Int("--services-per-target", SimulatedCluster.DefaultServicesPerTarget);
        // The scale run's checks read the success rate only: without the duration histograms Prometheus ingests ~1/20 of the series.
        var latencySeries = !opt.Flag("--no-latency-series");
        // --max-active N: each replica runs at most N rollouts at a time (Rollouts:MaxActive), the others wait Queued.
        var maxActive = opt.Int("--max-active", 0);
        var ports = (Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_CLUSTER_PORTS")
                     ?? throw new InvalidOperationException("CANARYFLOW_RABBITMQ_CLUSTER_PORTS is not set: source .ci/services.sh; start_rabbitmq_cluster DIR PORT DIST"))
            .Split(',').Select(int.Parse).ToList();
        const string ns = "scale";
        const string leasePrefix = "canaryflow-leader";
        var work = Directory.CreateTempSubdirectory("canaryflow-scale-").FullName;
        // --mode sequential: the product's default analysis (holds on a metrics outage); fixed-window by default, as every earlier scale figure.
        var mode = opt.Text("--mode") ?? "fixed-window";
        var services = BenchService.Many(ns, count, 0.2, interval, seed: 9, stepWeight: stepWeight, mode: mode);
        Console.WriteLine($"scale: {count} Canaries ({services.Count(s => s.Faulty)} faulty) over {replicas} replicas, {partitions} partitions, " +
                          $"RabbitMQ nodes {string.Join(",", ports)} (quorum queues), interval {interval.TotalSeconds}s ({mode}), steps {string.Join(",", services[0].Steps)}{(kill ? ", kill run" : "")}" +
                          $"{(maxActive > 0 ? $", at most {maxActive} active per replica" : "")}, " +
                          $"{Environment.ProcessorCount} cores, load average {ControllerSettings.LoadAverage():F1}; logs in {work}");

        PurgeLeftovers();
        using var api = new ApiRequestMeter();
        var setup = Stopwatch.StartNew();
        await using var cluster = await SimulatedCluster.StartAsync(services, scrapeInterval: TimeSpan.FromSeconds(2), servicesPerTarget: servicesPerTarget,
            latencySeries: latencySeries);
        Console.WriteLine($"  set-up: sandbox, Prometheus ({cluster.Exporter.ScrapeTargets.Count} scrape targets of {servicesPerTarget} services, every 2 s{(latencySeries ? "" : ", no duration histograms")}) " +
                          $"and {count} Deployments in {setup.Elapsed.TotalSeconds:F1} s");
        await using var proxy = await PrometheusProxy.StartAsync(cluster.Prometheus.Address, cluster.Clock);
        var leases = new PartitionLeaseWatcher(cluster.Store, ns, leasePrefix, TimeSpan.FromSeconds(10), cluster.Clock);
        var activity = new CanaryActivity(cluster.Store, partitions, cluster.Clock);
        var settings = Enumerable.Range(0, replicas).Select(i => ReplicaSettings(cluster, ns, ports, partitions, work, i, proxy.Address, maxActive)).ToList();
        // CANARYFLOW_REPLICA_<i>_ENV: runtime settings of one replica (GC settings compared side by side in one run).
        var controllers = settings.Select((s, i) => ControllerProcess.Start(s, Path.Combine(work, $"replica-{i}.log"),
            environment: Environment.GetEnvironmentVariable($"CANARYFLOW_REPLICA_{i}_ENV"))).ToList();
        for (var i = 0; i < replicas; i++)
            if (Environment.GetEnvironmentVariable($"CANARYFLOW_REPLICA_{i}_ENV") is { Length: > 0 } env) Console.WriteLine($"  replica-{i} runs with {env}");
        var alive = Enumerable.Repeat(true, replicas).ToArray();
        cluster.CreateCanaries();
        Console.WriteLine($"  set-up: {count} Canaries created at {setup.Elapsed.TotalSeconds:F1} s; the replicas initialise them (primary, Service, routing)");
        TimeSpan? allReleasedAt = null;

        var tracker = new RolloutTracker(cluster, services);
        await tracker.PollUntilAsync(() => tracker.Released > 0, limit);
        var start = cluster.Clock.Elapsed;
        var cpu0 = controllers.Select(c => c.Usage().CpuSeconds).ToArray();
        var (harnessCpu0, prometheusCpu0) = (HarnessCpuSeconds(), ProcessCpuSeconds(cluster.Prometheus.ProcessId));
        var peakRss = new long[replicas];
        var (api0, queries0, transitions0) = (api.Requests, proxy.Queries, activity.Transitions);
        var watched0 = WatchEventsSent(cluster);
        var apiByMethod0 = api.ByMethod();
        var cpuAtDeath = new double[replicas];
        TimeSpan? replicaKilledAt = null, nodeKilledAt = null, pausedAt = null, resumedAt = null;
        IReadOnlyList<int> orphaned = [];
        var nextReport = start;
        await tracker.PollUntilAsync(() =>
        {
            for (var i = 0; i < replicas; i++)
                if (alive[i]) peakRss[i] = Math.Max(peakRss[i], controllers[i].Usage().RssBytes);
            var now = cluster.Clock.Elapsed;
            if (allReleasedAt is null && tracker.Released == count)
            {
                allReleasedAt = now;
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s all {count} Canaries initialised and released ({setup.Elapsed.TotalSeconds:F0} s after the set-up began)");
            }
            if (kill && replicaKilledAt is null && tracker.Ended >= count / 5)
            {
                orphaned = leases.HeldBy("replica-0");
                cpuAtDeath[0] = controllers[0].Usage().CpuSeconds;
                controllers[0].Kill();
                alive[0] = false;
                replicaKilledAt = now;
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s SIGKILL replica-0 (held partitions {string.Join(",", orphaned)}); {tracker.Ended} ended");
            }
            if (pause > TimeSpan.Zero && pausedAt is null && tracker.Ended >= count / 5)
            {
                Signal(controllers[0].Id, "STOP");
                pausedAt = now;
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s SIGSTOP replica-0 for {pause.TotalSeconds:F0} s (holding {string.Join(",", leases.HeldBy("replica-0"))}); {tracker.Ended} ended");
            }
            if (pausedAt is { } paused && resumedAt is null && now - paused >= pause)
            {
                Signal(controllers[0].Id, "CONT");
                resumedAt = now;
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s SIGCONT replica-0; partitions {string.Join(" ", leases.Counts().OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}"))}");
            }
            // Each orphaned partition acted again: its first transition after its Lease was taken (a transition between the kill
            // and the take-over, say the dead replica's last write landing late, must not keep the node kill from coming).
            if (kill && replicaKilledAt is { } k && nodeKilledAt is null && orphaned.All(p => leases.TakenAfter(p, "replica-0", k) is { } t && activity.FirstAfter(p, t) is not null))
            {
                KillRabbitMqNode(3);
                nodeKilledAt = now;
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s SIGKILL RabbitMQ node 3 (port {ports[^1]}); {tracker.Ended} ended");
            }
            if (now >= nextReport)
            {
                Console.WriteLine($"  {now.TotalSeconds,6:F0}s released {tracker.Released}, ended {tracker.Ended}, transitions {activity.Transitions - transitions0}, " +
                                  $"partitions {string.Join(" ", leases.Counts().OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}"))}, " +
                                  $"RSS {string.Join("/", controllers.Select((c, i) => alive[i] ? $"{c.Usage().RssBytes >> 20}" : "-"))} MiB, load {ControllerSettings.LoadAverage():F1}");
                nextReport += TimeSpan.FromSeconds(15);
            }
            return tracker.AllEnded;
        }, limit);
        var seconds = (cluster.Clock.Elapsed - start).TotalSeconds;
        var cpu = controllers.Select((c, i) => (alive[i] ? c.Usage().CpuSeconds : cpuAtDeath[i]) - cpu0[i]).ToArray();
        var (harnessCpu, prometheusCpu) = (HarnessCpuSeconds() - harnessCpu0, ProcessCpuSeconds(cluster.Prometheus.ProcessId) - prometheusCpu0);
        var transitions = activity.Transitions - transitions0;
        var apiRequests = api.Requests - api0;
        var watched = WatchEventsSent(cluster).Select((n, k) => n - watched0[k]).ToArray();
        var apiByMethod = api.ByMethod().Select(m => (m.Key, Count: m.Value - apiByMethod0.GetValueOrDefault(m.Key))).Where(m => m.Count > 0).OrderByDescending(m => m.Count).ToList();
        var latencies = LoadRun.QueryToWeightMilliseconds(cluster, proxy, services);
        if (settle > TimeSpan.Zero)
        {
            Console.WriteLine($"  {cluster.Clock.Elapsed.TotalSeconds,6:F0}s watching {settle.TotalSeconds:F0} s more for releases rolled out again");
            await Task.Delay(settle);
        }
        // Read before the replicas stop: an unfinished rollout's message says what it was waiting on.
        var endReasons = tracker.EndReasonLines();
        foreach (var c in controllers) c.Dispose();

        Console.WriteLine();
        var wrong = tracker.PrintTally(onlyWrong: true);
        var stepViolations = services.Count(s => WeightRecorder.Violation(cluster.Weights.History(s.Name).Select(w => w.CanaryWeight).ToList(), s.Steps,
            mustReachLast: false) is not null);
        var rerun = services.Count(s => WeightRecorder.RolledOutMoreThanOnce(cluster.Weights.History(s.Name).Select(w => w.CanaryWeight).ToList()));
        var conflicts = Enumerable.Range(0, replicas).Sum(i => CountIn(Path.Combine(work, $"replica-{i}.log"), "RolloutConcurrencyException"));
        Console.WriteLine();
        Console.WriteLine($"{count} rollouts over {replicas} replicas in {seconds:F0} s: {count - wrong} ended right, {wrong} wrong ({tracker.Ended} ended); " +
                          $"{stepViolations} weight sequences with a step twice or skipped; {transitions} transitions, {transitions / seconds:F1}/s, " +
                          $"{transitions / Math.Max(0.01, cpu.Sum()):F1} per controller CPU-second; {apiRequests / (double)Math.Max(1, transitions):F1} API requests per transition; " +
                          $"query → weight p50 {LoadRun.Percentile(latencies, 50):F0} ms, p99 {LoadRun.Percentile(latencies, 99):F0} ms; " +
                          $"{(proxy.Queries - queries0) / (seconds / interval.TotalSeconds):F0} Prometheus queries per interval");
        Console.WriteLine($"  watch events the API server sent, all replicas: Deployments {watched[0]} ({watched[0] / (double)Math.Max(1, transitions):F2} per transition), " +
                          $"Canaries {watched[1]} ({watched[1] / (double)Math.Max(1, transitions):F2} per transition)");
        Console.WriteLine($"  API requests per transition by method: {string.Join(", ", apiByMethod.Select(m => $"{m.Key} {m.Count / (double)Math.Max(1, transitions):F1}"))}");
        for (var i = 0; i < replicas; i++)
            Console.WriteLine($"  replica-{i}: CPU {cpu[i]:F0} s ({cpu[i] / seconds * 100:F0}% of a core{(alive[i] ? "" : " until killed")}), peak RSS {peakRss[i] / 1024.0 / 1024:F0} MiB");
        Console.WriteLine($"  harness (sandbox API server, synthetic mesh, tracker): CPU {harnessCpu:F0} s ({harnessCpu / seconds * 100:F0}% of a core); " +
                          $"Prometheus: CPU {prometheusCpu:F0} s ({prometheusCpu / seconds * 100:F0}% of a core)");
        Console.WriteLine($"  synthetic mesh: {cluster.MeshPasses / cluster.Clock.Elapsed.TotalSeconds:F2} passes/s over {count} services (a 250 ms tick asks 4), " +
                          $"longest pass {cluster.LongestMeshPass.TotalMilliseconds:F0} ms; traffic counted from the time elapsed");
        Console.WriteLine($"  harness Prometheus: {await PrometheusSelfFigures.DescribeAsync(cluster.Prometheus.Address)}; " +
                          $"the mesh served {cluster.Exporter.Scrapes} scrapes, {cluster.Exporter.MeanScrape.TotalMilliseconds:F1} ms each on average");
        Console.WriteLine($"  double writers (a partition Lease changing holder inside the old holder's renew deadline): {leases.Overlaps}; " +
                          $"stored-version conflicts in the logs: {conflicts}; releases rolled out more than once: {rerun}");
        Console.WriteLine("  why they ended (the Canary's status message at its end; unfinished: where they were left):");
        foreach (var line in endReasons) Console.WriteLine($"    {line}");
        if (replicaKilledAt is { } killed)
        {
            var taken = orphaned.Select(p => leases.TakenAfter(p, "replica-0", killed)).ToList();
            var acted = orphaned.Select(p => activity.FirstAfter(p, taken[orphaned.ToList().IndexOf(p)] ?? TimeSpan.MaxValue)).ToList();
            Console.WriteLine($"  replica-0 killed at {killed.TotalSeconds:F0} s holding partitions {string.Join(",", orphaned)}: taken over after " +
                              $"{Describe(taken, killed)}; acting again (first transition) after {Describe(acted, killed)}");
        }
        if (nodeKilledAt is { } nodeKilled) Console.WriteLine($"  RabbitMQ node 3 killed at {nodeKilled.TotalSeconds:F0} s; rollouts ended after it: {tracker.Ended}");
        Console.WriteLine($"load average {ControllerSettings.LoadAverage():F1}");
        return wrong == 0 && stepViolations == 0 && rerun == 0 && leases.Overlaps == 0 ? 0 : 1;
    }

    private static string Describe(IReadOnlyList<TimeSpan?> times, TimeSpan from) =>
        times.Any(t => t is null) ? $"{times.Count(t => t is null)} never"
            : times.Count == 0 ? "-" : $"{times.Min(t => (t!.Value - from).TotalSeconds):F1}–{times.Max(t => (t!.Value - from).TotalSeconds):F1} s";

    private static Dictionary<string, string> ReplicaSettings(SimulatedCluster cluster, string ns, IReadOnlyList<int> ports, int partitions, string work,
        int i, Uri prometheus, int maxActive)
    {
        var dir = Path.Combine(work, $"replica-{i}");
        var s = ControllerSettings.For(cluster, ns, ports[0], dir, leaderElection: true);
        for (var n = 0; n < ports.Count; n++) s[$"Bus:RabbitMq:Hosts:{n}"] = $"127.0.0.1:{ports[(n + i) % ports.Count]}"; // spread the connections
        s["Bus:RabbitMq:QuorumQueues"] = "true";
        s["Sharding:Partitions"] = partitions.ToString(CultureInfo.InvariantCulture);
        s["Kubernetes:Identity"] = $"replica-{i}";
        s["Prometheus:Address"] = prometheus.ToString();
        if (maxActive > 0) s["Rollouts:MaxActive"] = maxActive.ToString(CultureInfo.InvariantCulture);
        // Partition moves are what this run is about: keep them in the replica's log.
        s["Logging:LogLevel:CanaryFlow.Controller.Hosting.Sharding"] = "Information";
        s["Logging:LogLevel:CanaryFlow.Controller.Kubernetes.Leadership"] = "Information";
        // And what the watch asks for (each release's request, each initialisation's revision): a rollout that ended wrong
        // is traced from them (which replica asked for which revision, from which one, when).
        s["Logging:LogLevel:CanaryFlow.Controller.Kubernetes.Watch"] = "Information";
        // Times in the replicas' logs: a run's events are read against the harness's report lines.
        s["Logging:Console:FormatterOptions:TimestampFormat"] = "HH:mm:ss.fff ";
        s["Logging:Console:FormatterOptions:UseUtcTimestamp"] = "true";
        if (Environment.GetEnvironmentVariable("CANARYFLOW_SCALE_LOG_LEVEL") is { Length: > 0 } level) s["Logging:LogLevel:Default"] = level;
        return s;
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}");
        kill.WaitForExit(5_000);
    }

    private static void KillRabbitMqNode(int node) => ClusterScript(dir => $"kill_rabbitmq_node \"{dir}/n{node}\"", 10_000);

    /// <summary>Empties the cluster's CanaryFlow queues: quorum queues keep what a run cut short left, and every run uses the
    /// same Canaries, revisions and so rollout ids, so a reused cluster would feed the last run's commands to this one.</summary>
    private static void PurgeLeftovers()
    {
        ClusterScript(dir => $"for q in $(rabbitmqctl_node \"{dir}/n1\" -q list_queues name | grep '^canaryflow-'); do " +
                             $"rabbitmqctl_node \"{dir}/n1\" -q purge_queue \"$q\" >/dev/null; done", 300_000);
        Console.WriteLine("  emptied the cluster's canaryflow-* queues (what an earlier run left)");
    }

    private static void ClusterScript(Func<string, string> command, int timeoutMs)
    {
        var script = Environment.GetEnvironmentVariable("CANARYFLOW_SERVICES_SH") ?? Path.GetFullPath(".ci/services.sh");
        var dir = Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_CLUSTER_DIR") ?? throw new InvalidOperationException("CANARYFLOW_RABBITMQ_CLUSTER_DIR is not set");
        var info = new ProcessStartInfo("bash") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"source \"{script}\"; {command(dir)}");
        using var process = Process.Start(info)!;
        process.WaitForExit(timeoutMs);
    }

    private static long[] WatchEventsSent(SimulatedCluster cluster) =>
        [cluster.Api.Store.WatchEventsSent(ResourceKinds.Deployments), cluster.Api.Store.WatchEventsSent(ResourceKinds.Canaries)];

    private static double HarnessCpuSeconds() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    private static double ProcessCpuSeconds(int? pid) => pid is { } id ? ControllerProcess.CpuSecondsOf(id) : 0;

    private static int CountIn(string file, string text) =>
        File.Exists(file) ? File.ReadLines(file).Count(l => l.Contains(text, StringComparison.Ordinal)) : 0;
}
