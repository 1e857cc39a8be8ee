using System.Diagnostics;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>
/// Issue 5, faults: the controller (its own process, on RabbitMQ) is SIGKILLed at seeded random moments
/// while N rollouts run, and started again each time, until every rollout has ended. The cluster (sandbox
/// API, synthetic mesh metrics, real Prometheus) lives in this process and survives the kills.
/// Prints a tally: each rollout's final state against the expected one, and its canary weight sequence
/// as the VirtualService watcher saw it (no step twice, none skipped, never above plan). Exit 0 when all hold.
/// </summary>
public static class KillHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = ControllerSettings.IntArg(args, "--rollouts", 50);
        var seed = ControllerSettings.IntArg(args, "--seed", 42);
        var port = ControllerSettings.IntArg(args, "--rabbitmq-port", 5672);
        var maxKills = ControllerSettings.IntArg(args, "--kills", 12);
        var interval = TimeSpan.FromSeconds(ControllerSettings.IntArg(args, "--interval-seconds", 4));
        var limit = TimeSpan.FromSeconds(ControllerSettings.IntArg(args, "--time-limit-s", 900));
        const string ns = "bench";

        var work = Directory.CreateTempSubdirectory("canaryflow-kill-").FullName;
        var services = BenchService.Many(ns, count, 0.3, interval, seed);
        Console.WriteLine($"kill harness: {count} rollouts ({services.Count(s => s.Faulty)} faulty), seed {seed}, up to {maxKills} SIGKILLs, " +
                          $"interval {interval.TotalSeconds}s, load average {ControllerSettings.LoadAverage():F1}; logs in {work}");
        await using var cluster = await SimulatedCluster.StartAsync(services);
        var settings = ControllerSettings.For(cluster, ns, port, work);
        var log = Path.Combine(work, "controller.log");
        var controller = ControllerProcess.Start(settings, log);
        cluster.CreateCanaries();

        var random = new Random(seed);
        var released = new Dictionary<string, string>();
        var final = new Dictionary<string, string>();
        var kills = 0;
        var nextKill = cluster.Clock.Elapsed + NextKillDelay(random);
        var killTimes = new List<double>();
        while (final.Count < count && cluster.Clock.Elapsed < limit)
        {
            await Task.Delay(200);
            foreach (var s in services)
            {
                if (!released.ContainsKey(s.Name) && cluster.StableRevision(s) is { } initial)
                {
                    released[s.Name] = initial;
                    cluster.Release(s);
                }
                if (released.TryGetValue(s.Name, out var r) && !final.ContainsKey(s.Name) && cluster.FinalPhase(s, r) is { } phase)
                    final[s.Name] = phase;
            }
            if (kills < maxKills && cluster.Clock.Elapsed >= nextKill && final.Count < count)
            {
                controller.Kill();
                kills++;
                killTimes.Add(cluster.Clock.Elapsed.TotalSeconds);
                Console.WriteLine($"{cluster.Clock.Elapsed.TotalSeconds,6:F1}s SIGKILL #{kills} pid {controller.Id}: {released.Count} released, {final.Count} ended");
                controller.Dispose();
                await Task.Delay(random.Next(0, 1500));
                controller = ControllerProcess.Start(settings, log);
                nextKill = cluster.Clock.Elapsed + NextKillDelay(random);
            }
            if (controller.HasExited)
            {
                Console.WriteLine($"{cluster.Clock.Elapsed.TotalSeconds,6:F1}s controller exited by itself (see {log}); starting it again");
                controller.Dispose();
                controller = ControllerProcess.Start(settings, log);
            }
        }
        var elapsed = cluster.Clock.Elapsed;
        controller.Dispose();
        return PrintTally(cluster, services, final, kills, elapsed);
    }

    /// <summary>Kills land anywhere from just after a start (mid-initialisation) to deep into the rollouts.</summary>
    private static TimeSpan NextKillDelay(Random random) => TimeSpan.FromSeconds(3 + random.NextDouble() * 12);

    private static int PrintTally(SimulatedCluster cluster, IReadOnlyList<BenchService> services, Dictionary<string, string> final, int kills, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine($"{"service",-9} {"faulty",-6} {"expected",-9} {"final",-9} {"stable image",-26} weights seen (VirtualService watch)       verdict");
        var wrongState = 0; var badSequence = 0;
        foreach (var s in services)
        {
            var phase = final.GetValueOrDefault(s.Name, "unfinished");
            var weights = cluster.Weights.History(s.Name).Select(c => c.CanaryWeight).ToList();
            var violation = WeightRecorder.Violation(weights, s.Steps, mustReachLast: phase == "Succeeded");
            var stable = cluster.ImageOf(s.Namespace, $"{s.Name}-primary") ?? "-";
            var imageOk = phase == "Succeeded" ? stable == s.NewImage : stable == s.StableImage;
            var ok = phase == s.ExpectedPhase && imageOk;
            if (!ok) wrongState++;
            if (violation is not null) badSequence++;
            Console.WriteLine($"{s.Name,-9} {(s.Faulty ? "yes" : "no"),-6} {s.ExpectedPhase,-9} {phase,-9} {stable,-26} {string.Join(",", weights),-40} " +
                              $"{(ok && violation is null ? "ok" : $"WRONG {(ok ? "" : "final state/image ")}{violation}")}");
        }
        Console.WriteLine();
        Console.WriteLine($"{services.Count} rollouts, {kills} SIGKILLs, {elapsed.TotalSeconds:F0} s, load average {ControllerSettings.LoadAverage():F1}: " +
                          $"{services.Count - wrongState} right final state, {wrongState} wrong; {services.Count - badSequence} clean weight sequences, {badSequence} broken; " +
                          $"{cluster.Weights.VirtualServiceWrites} VirtualService writes");
        return wrongState == 0 && badSequence == 0 ? 0 : 1;
    }
}
