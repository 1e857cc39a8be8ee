using System.Globalization;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Issue 5, load: N Canaries at once (a fifth of them faulty) through RabbitMQ and the sandbox API, the
/// controller in its own process. Prints one row and appends it to a CSV: transitions/s, p50/p99 from the
/// analysis query to the weight in the VirtualService, API requests per transition, Prometheus queries per
/// analysis interval, controller CPU (share of one core) and peak RSS, and the machine's load average.
/// </summary>
public static class LoadHarness
{
    public const string CsvHeader = "rollouts,seconds,transitions,transitions_per_s,p50_query_to_weight_ms,p99_query_to_weight_ms,api_requests,api_requests_per_transition,prometheus_queries_per_interval,controller_cpu_percent,controller_peak_rss_mib,right,wrong,load_average";

    public static async Task<int> RunAsync(string[] args)
    {
        var count = ControllerSettings.IntArg(args, "--rollouts", 100);
        var port = ControllerSettings.IntArg(args, "--rabbitmq-port", 5672);
        var interval = TimeSpan.FromSeconds(ControllerSettings.IntArg(args, "--interval-seconds", 10));
        var limit = TimeSpan.FromSeconds(ControllerSettings.IntArg(args, "--time-limit-s", 1200));
        var csv = Array.IndexOf(args, "--csv") is var c and >= 0 ? args[c + 1] : null;
        var work = Directory.CreateTempSubdirectory("canaryflow-load-").FullName;
        var mode = Array.IndexOf(args, "--mode") is var m and >= 0 ? args[m + 1] : "sequential";
        var services = BenchService.Many("load", count, 0.2, interval, seed: 5, mode: mode);
        var loadBefore = ControllerSettings.LoadAverage();
        Console.WriteLine($"load: {count} Canaries ({services.Count(s => s.Faulty)} faulty), {mode}, interval {interval.TotalSeconds}s, load average {loadBefore:F1}; logs in {work}");

        // --evidence-write-s 0 writes the Canary status at every sequential tick (the throttle off), for comparison.
        var extra = new Dictionary<string, string>();
        if (Array.IndexOf(args, "--evidence-write-s") is var w and >= 0)
            extra["Kubernetes:EvidenceWriteInterval"] = TimeSpan.FromSeconds(int.Parse(args[w + 1], CultureInfo.InvariantCulture)).ToString();
        // --max-active N: at most N rollouts at a time (Rollouts:MaxActive), the others wait Queued.
        if (ControllerSettings.IntArg(args, "--max-active", 0) is var maxActive and > 0)
            extra["Rollouts:MaxActive"] = maxActive.ToString(CultureInfo.InvariantCulture);
        await using var run = await LoadRun.StartAsync(services, port, work, TimeSpan.FromSeconds(2), extra);
        run.Cluster.CreateCanaries();
        var tracker = new RolloutTracker(run.Cluster, services);
        // Measured from the first release: initialisation (creating primaries and routing) is not rollout work.
        await tracker.PollUntilAsync(() => tracker.Released > 0, limit);
        var start = run.Clock.Elapsed;
        var (cpu0, _) = run.Controller.Usage();
        var api0 = run.Api.Requests;
        var writes0 = Interlocked.Read(ref run.CanaryWrites);
        var queries0 = run.Proxy.Queries;
        var transitions0 = Interlocked.Read(ref run.Transitions);
        long peakRss = 0;
        var loadSamples = new List<double>();
        var nextReport = start;
        await tracker.PollUntilAsync(() =>
        {
            peakRss = Math.Max(peakRss, run.Controller.Usage().RssBytes);
            if (run.Clock.Elapsed >= nextReport)
            {
                loadSamples.Add(ControllerSettings.LoadAverage());
                Console.WriteLine($"  {run.Clock.Elapsed.TotalSeconds,6:F0}s released {tracker.Released}, ended {tracker.Ended}, transitions {Interlocked.Read(ref run.Transitions) - transitions0}");
                nextReport += TimeSpan.FromSeconds(15);
            }
            return tracker.AllEnded;
        }, limit);
        var seconds = (run.Clock.Elapsed - start).TotalSeconds;
        var (cpu1, _) = run.Controller.Usage();
        var transitions = Interlocked.Read(ref run.Transitions) - transitions0;
        var api = run.Api.Requests - api0;
        var writes = Interlocked.Read(ref run.CanaryWrites) - writes0;
        Console.WriteLine($"{mode}: {writes} Canary writes in {seconds:F0} s = {writes / seconds:F1}/s ({writes / seconds / count:F3} per Canary per s); {api / seconds:F1} API requests/s");
        var queries = run.Proxy.Queries - queries0;
        var latencies = run.QueryToWeightMilliseconds(services);
        var wrong = tracker.PrintTally();
        // Why they ended, and where the unfinished ones wait (their Canary's status message): a run that stalls says why.
        Console.WriteLine("  why they ended (the Canary's status message at its end; unfinished: where they were left):");
        foreach (var line in tracker.EndReasonLines()) Console.WriteLine($"    {line}");

        var row = string.Join(',', new object[]
        {
            count, seconds.ToString("F0", CultureInfo.InvariantCulture), transitions, (transitions / seconds).ToString("F1", CultureInfo.InvariantCulture),
            LoadRun.Percentile(latencies, 50).ToString("F0", CultureInfo.InvariantCulture), LoadRun.Percentile(latencies, 99).ToString("F0", CultureInfo.InvariantCulture),
            api, (api / (double)Math.Max(1, transitions)).ToString("F1", CultureInfo.InvariantCulture),
            (queries / (seconds / interval.TotalSeconds)).ToString("F0", CultureInfo.InvariantCulture),
            ((cpu1 - cpu0) / seconds * 100).ToString("F0", CultureInfo.InvariantCulture), (peakRss / 1024.0 / 1024).ToString("F0", CultureInfo.InvariantCulture),
            count - wrong, wrong, (loadSamples.Count > 0 ? loadSamples.Average() : loadBefore).ToString("F1", CultureInfo.InvariantCulture),
        });
        Console.WriteLine(CsvHeader);
        Console.WriteLine(row);
        if (csv is not null)
        {
            if (!File.Exists(csv)) await File.WriteAllTextAsync(csv, CsvHeader + "\n");
            await File.AppendAllTextAsync(csv, row + "\n");
        }
        return wrong == 0 ? 0 : 1;
    }
}
