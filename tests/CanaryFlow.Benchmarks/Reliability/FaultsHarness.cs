using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Issue 5, faults, one scenario after another on one cluster, each with its own group of rollouts
/// (some faulty) and a tally: RabbitMQ stopped and started mid-rollout; Prometheus down for two analysis
/// intervals (no step may be taken on missing data); the API server answering 500/429/409 in bursts and
/// dropping every watch; the notification channel down (500) through whole rollouts; and two replicas with
/// leader election, the leader SIGKILLed (handover time measured on the Lease).
/// </summary>
public static class FaultsHarness
{
    private const string Ns = "faults";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan ScenarioLimit = TimeSpan.FromMinutes(4);

    public static async Task<int> RunAsync(string[] args)
    {
        var port = ControllerSettings.IntArg(args, "--rabbitmq-port", 5672);
        var perGroup = ControllerSettings.IntArg(args, "--rollouts", 6);
        string[] scenarios = ["rabbitmq", "prometheus", "api", "notifications", "leader"];
        var only = Array.IndexOf(args, "--only") is var o and >= 0 && o + 1 < args.Length ? args[o + 1] : null; // one scenario, e.g. --only notifications
        bool Runs(string scenario) => only is null || only == scenario;
        var groups = scenarios.ToDictionary(s => s, s => (IReadOnlyList<BenchService>)Enumerable.Range(0, perGroup)
            .Select(i => new BenchService(Ns, $"{s}-{i:D2}", Faulty: i % 3 == 2, StepWeight: 20, MaxWeight: 100, Interval, FailureLimit: 2)).ToList());
        var work = Directory.CreateTempSubdirectory("canaryflow-faults-").FullName;
        Console.WriteLine($"faults harness: {scenarios.Length} scenarios × {perGroup} rollouts, interval {Interval.TotalSeconds}s, " +
                          $"load average {ControllerSettings.LoadAverage():F1}; logs in {work}");

        await using var receiver = await NotificationReceiver.StartAsync();
        await using var cluster = await SimulatedCluster.StartAsync(groups.Values.SelectMany(g => g).ToList());
        var settings = ControllerSettings.For(cluster, Ns, port, work, notificationWebhook: receiver.Url);
        var controller = ControllerProcess.Start(settings, Path.Combine(work, "controller.log"));
        var results = new List<(string Scenario, int Wrong, string Figures)>();
        try
        {
            // Canaries of all groups exist from the start; each group is released when its scenario runs.
            foreach (var s in groups["rabbitmq"].Concat(groups["prometheus"]).Concat(groups["api"]).Concat(groups["notifications"]))
                cluster.Store.Create(ResourceKinds.Canaries, Ns, s.CanaryManifest());
            if (Runs("rabbitmq")) results.Add(await RabbitMqRestartAsync(cluster, groups["rabbitmq"]));
            if (Runs("prometheus")) results.Add(await PrometheusOutageAsync(cluster, groups["prometheus"]));
            if (Runs("api")) results.Add(await ApiFaultsAsync(cluster, groups["api"]));
            if (Runs("notifications")) results.Add(await NotificationOutageAsync(cluster, groups["notifications"], receiver));
            controller.Dispose(); // the leader scenario runs two replicas of its own
            if (Runs("leader")) results.Add(await LeaderHandoverAsync(cluster, groups["leader"], settings, work));
        }
        finally { controller.Dispose(); }

        Console.WriteLine();
        Console.WriteLine($"{"scenario",-14} {"rollouts right",-15} figures");
        foreach (var (scenario, wrong, figures) in results)
            Console.WriteLine($"{scenario,-14} {perGroup - wrong}/{perGroup,-13} {figures}");
        Console.WriteLine($"load average at the end {ControllerSettings.LoadAverage():F1}");
        return results.All(r => r.Wrong == 0) ? 0 : 1;
    }

    private static async Task<(string, int, string)> RabbitMqRestartAsync(SimulatedCluster cluster, IReadOnlyList<BenchService> group)
    {
        Console.WriteLine("\n== RabbitMQ stop_app / start_app mid-rollout");
        var tracker = new RolloutTracker(cluster, group);
        await tracker.PollUntilAsync(() => group.Any(s => cluster.Weights.CurrentWeight(s.Name) > 0), ScenarioLimit);
        await RabbitMqControl.RunAsync("stop_app");
        var down = cluster.Clock.Elapsed;
        Console.WriteLine($"  {down.TotalSeconds:F1}s broker application stopped");
        await tracker.PollUntilAsync(() => false, TimeSpan.FromSeconds(10));
        await RabbitMqControl.RunAsync("start_app");
        Console.WriteLine($"  {cluster.Clock.Elapsed.TotalSeconds:F1}s broker application started");
        await tracker.PollUntilAsync(() => tracker.AllEnded, ScenarioLimit);
        return ("rabbitmq", tracker.PrintTally(), "broker down 10 s mid-rollout");
    }

    private static async Task<(string, int, string)> PrometheusOutageAsync(SimulatedCluster cluster, IReadOnlyList<BenchService> group)
    {
        Console.WriteLine("\n== Prometheus stopped for two analysis intervals");
        var tracker = new RolloutTracker(cluster, group);
        await tracker.PollUntilAsync(() => group.Count(s => cluster.Weights.CurrentWeight(s.Name) > 0) >= group.Count / 2, ScenarioLimit);
        await cluster.Prometheus.StopAsync();
        var stopped = cluster.Clock.Elapsed;
        var maxInconclusive = 0;
        await tracker.PollUntilAsync(() =>
        {
            maxInconclusive = Math.Max(maxInconclusive, group.Max(s => cluster.InconclusiveChecks(s)));
            return false;
        }, 2 * Interval);
        await cluster.Prometheus.StartAsync();
        var started = cluster.Clock.Elapsed;
        // A step committed within a second of the stop may come from a check that read Prometheus just before.
        var stepsWhileDown = group.Sum(s => cluster.Weights.History(s.Name)
            .Count(c => c.CanaryWeight > 0 && c.At > stopped + TimeSpan.FromSeconds(1) && c.At < started));
        var promotedWhileDown = group.Count(s => cluster.Weights.History(s.Name).Any(c => c.CanaryWeight == 0 && c.At > stopped && c.At < started)
                                                 && cluster.ImageOf(s.Namespace, $"{s.Name}-primary") == s.NewImage);
        Console.WriteLine($"  down {stopped.TotalSeconds:F1}s → {started.TotalSeconds:F1}s: steps taken while down {stepsWhileDown}, " +
                          $"promotions while down {promotedWhileDown}, highest inconclusive count seen {maxInconclusive}");
        await tracker.PollUntilAsync(() => tracker.AllEnded, ScenarioLimit);
        var wrong = tracker.PrintTally() + stepsWhileDown + promotedWhileDown;
        return ("prometheus", Math.Min(wrong, group.Count),
            $"down {(started - stopped).TotalSeconds:F0} s: {stepsWhileDown} steps and {promotedWhileDown} promotions while down; inconclusive checks up to {maxInconclusive}");
    }

    private static async Task<(string, int, string)> ApiFaultsAsync(SimulatedCluster cluster, IReadOnlyList<BenchService> group)
    {
        Console.WriteLine("\n== API server: bursts of 500, 429 and 409, every watch dropped");
        var tracker = new RolloutTracker(cluster, group);
        await tracker.PollUntilAsync(() => group.Any(s => cluster.Weights.CurrentWeight(s.Name) > 0), ScenarioLimit);
        var injectedBefore = cluster.Api.Faults.Injected;
        var dropped = 0;
        // Bursts are bounded in time, as an overloaded API server's are: 1.5 s each of 500, 429 and 409 (on
        // writes), every watch dropped, then 6 s of health; four times. (One kind at a time: the first queued
        // fault that matches a request answers it.)
        for (var burst = 0; burst < 4; burst++)
        {
            dropped += cluster.Store.DropWatches();
            foreach (var fault in new[] { new Fault(500, 10_000), new Fault(429, 10_000, RetryAfterSeconds: 1), new Fault(409, 10_000, Method: "PATCH") })
            {
                cluster.Api.Faults.Add(fault);
                await tracker.PollUntilAsync(() => false, TimeSpan.FromSeconds(1.5));
                cluster.Api.Faults.Clear();
            }
            await tracker.PollUntilAsync(() => false, TimeSpan.FromSeconds(6));
        }
        await tracker.PollUntilAsync(() => tracker.AllEnded, ScenarioLimit);
        var injected = cluster.Api.Faults.Injected - injectedBefore;
        Console.WriteLine($"  {injected} error answers served, {dropped} watches dropped");
        return ("api", tracker.PrintTally(), $"4 bursts of 1.5 s each of 500, 429, 409: {injected} error answers, {dropped} watches dropped");
    }

    private static async Task<(string, int, string)> NotificationOutageAsync(SimulatedCluster cluster, IReadOnlyList<BenchService> group, NotificationReceiver receiver)
    {
        Console.WriteLine("\n== Notification channel answering 500 through whole rollouts");
        var tracker = new RolloutTracker(cluster, group);
        receiver.Down = true;
        var downAt = cluster.Clock.Elapsed;
        await tracker.PollUntilAsync(() => tracker.AllEnded, ScenarioLimit);
        await tracker.PollUntilAsync(() => false, TimeSpan.FromSeconds(10));
        receiver.Down = false;
        var outage = cluster.Clock.Elapsed - downAt;
        var refused = Interlocked.Read(ref receiver.Refused);
        bool Delivered(BenchService s) => receiver.Received($"{s.Namespace}/{s.Name}", s.ExpectedPhase);
        await tracker.PollUntilAsync(() => group.All(Delivered), TimeSpan.FromSeconds(90));
        var lost = group.Count(s => !Delivered(s));
        Console.WriteLine($"  channel down {outage.TotalSeconds:F0} s ({refused} deliveries refused); final transitions delivered after it came back: " +
                          $"{group.Count - lost}/{group.Count}");
        var wrong = tracker.PrintTally();
        return ("notifications", Math.Min(group.Count, wrong + lost),
            $"channel down {outage.TotalSeconds:F0} s, {refused} attempts refused; final transitions delivered afterwards {group.Count - lost}/{group.Count}");
    }

    private static async Task<(string, int, string)> LeaderHandoverAsync(SimulatedCluster cluster, IReadOnlyList<BenchService> group,
        Dictionary<string, string> settings, string work)
    {
        Console.WriteLine("\n== Two replicas with leader election; the leader SIGKILLed");
        var lease = new LeaseWatcher(cluster.Store, Ns, "canaryflow-leader", cluster.Clock);
        var replicas = new Dictionary<string, ControllerProcess>();
        foreach (var id in new[] { "replica-a", "replica-b" })
            replicas[id] = ControllerProcess.Start(new Dictionary<string, string>(settings)
            {
                ["Kubernetes:LeaderElection"] = "true",
                ["Kubernetes:Identity"] = id,
            }, Path.Combine(work, $"{id}.log"));
        try
        {
            var tracker = new RolloutTracker(cluster, group);
            await tracker.PollUntilAsync(() => lease.Holder is not null, ScenarioLimit);
            foreach (var s in group) cluster.Store.Create(ResourceKinds.Canaries, Ns, s.CanaryManifest());
            await tracker.PollUntilAsync(() => group.Count(s => cluster.Weights.CurrentWeight(s.Name) > 0) >= group.Count / 2, ScenarioLimit);
            var leader = lease.Holder!;
            replicas[leader].Kill();
            var killedAt = cluster.Clock.Elapsed;
            Console.WriteLine($"  {killedAt.TotalSeconds:F1}s SIGKILL of the leader {leader}");
            await tracker.PollUntilAsync(() => lease.Holder is { } h && h != leader, ScenarioLimit);
            var handover = lease.HolderChangedAt - killedAt;
            Console.WriteLine($"  new leader {lease.Holder} after {handover.TotalSeconds:F1} s (lease duration {lease.DurationSeconds} s)");
            await tracker.PollUntilAsync(() => tracker.AllEnded, ScenarioLimit);
            var wrong = tracker.PrintTally();
            return ("leader", wrong, $"handover {handover.TotalSeconds:F1} s after SIGKILL (lease {lease.DurationSeconds} s, renew deadline 10 s, retry 2 s)");
        }
        finally { foreach (var r in replicas.Values) r.Dispose(); }
    }
}
