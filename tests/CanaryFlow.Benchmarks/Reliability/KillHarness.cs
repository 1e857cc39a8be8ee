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
        var opt = new BenchArgs(args);
        var (count, interval, limit) = opt.Run(rollouts: 50, intervalSeconds: 4, limitSeconds: 900);
        var (seed, port, maxKills) = (opt.Int("--seed", 42), opt.Int("--rabbitmq-port", 5672), opt.Int("--kills", 12));
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
        var tracker = new RolloutTracker(cluster, services);
        var kills = 0;
        var nextKill = cluster.Clock.Elapsed + NextKillDelay(random);
        while (!tracker.AllEnded && cluster.Clock.Elapsed < limit)
        {
            await Task.Delay(200);
            tracker.Poll();
            if (kills < maxKills && cluster.Clock.Elapsed >= nextKill && !tracker.AllEnded)
            {
                controller.Kill();
                kills++;
                Console.WriteLine($"{cluster.Clock.Elapsed.TotalSeconds,6:F1}s SIGKILL #{kills} pid {controller.Id}: {tracker.Released} released, {tracker.Ended} ended");
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
        Console.WriteLine();
        var wrong = tracker.PrintTally();
        Console.WriteLine();
        Console.WriteLine($"{services.Count} rollouts, {kills} SIGKILLs, {elapsed.TotalSeconds:F0} s, load average {ControllerSettings.LoadAverage():F1}: " +
                          $"{services.Count - wrong} right (final state, stable image, weight sequence), {wrong} wrong; " +
                          $"{cluster.Weights.VirtualServiceWrites} VirtualService writes");
        return wrong == 0 ? 0 : 1;
    }

    /// <summary>Kills land anywhere from just after a start (mid-initialisation) to deep into the rollouts.</summary>
    private static TimeSpan NextKillDelay(Random random) => TimeSpan.FromSeconds(3 + random.NextDouble() * 12);
}
