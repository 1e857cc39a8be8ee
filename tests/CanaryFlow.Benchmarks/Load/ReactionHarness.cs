using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using CanaryFlow.Benchmarks.Reliability;

namespace CanaryFlow.Benchmarks.Load;

/// <summary>
/// Issue 5, reaction time, in one run on one cluster: faulty canaries under CanaryFlow's settings (interval 4 s,
/// failureLimit 2) and under Flagger's defaults scaled down five times (interval 1 m → 12 s, failureLimit 5);
/// and healthy-looking canaries aborted by an Alertmanager alert. Figures: how long a bad canary serves
/// traffic (first weight > 0 → weight 0 in the VirtualService), from the analysis query that saw the breach to
/// 100% stable, and from the alert's arrival to 100% stable.
/// </summary>
public static class ReactionHarness
{
    private const string Ns = "reaction";
    private const int Scale = 5;

    public static async Task<int> RunAsync(string[] args)
    {
        var port = ControllerSettings.IntArg(args, "--rabbitmq-port", 5672);
        var per = ControllerSettings.IntArg(args, "--rollouts", 3);
        var canaryFlow = Group("cf", per, TimeSpan.FromSeconds(4), failureLimit: 2, faulty: true);
        var flagger = Group("fl", per, TimeSpan.FromSeconds(60 / Scale), failureLimit: 5, faulty: true);
        var alerted = Group("am", per, TimeSpan.FromSeconds(20), failureLimit: 2, faulty: false);
        var all = canaryFlow.Concat(flagger).Concat(alerted).ToList();
        var work = Directory.CreateTempSubdirectory("canaryflow-reaction-").FullName;
        Console.WriteLine($"reaction: {per} faulty canaries with CanaryFlow settings, {per} with Flagger defaults ÷{Scale}, {per} aborted by an alert; " +
                          $"load average {ControllerSettings.LoadAverage():F1}; logs in {work}");

        await using var run = await LoadRun.StartAsync(all, port, work, TimeSpan.FromSeconds(1));
        run.Cluster.CreateCanaries();
        var tracker = new RolloutTracker(run.Cluster, canaryFlow.Concat(flagger).ToList());
        var alertTracker = new AlertedTracker(run, alerted);
        await tracker.PollUntilAsync(() => { alertTracker.Poll(); return tracker.AllEnded && alertTracker.AllAborted; }, TimeSpan.FromMinutes(10));
        var wrong = tracker.PrintTally();

        var cfServing = ServingSeconds(run, canaryFlow);
        var flServing = ServingSeconds(run, flagger);
        var cfTick = run.QueryToWeightMilliseconds(canaryFlow, rollbacksOnly: true);
        var flTick = run.QueryToWeightMilliseconds(flagger, rollbacksOnly: true);
        var alertMs = alertTracker.ReactionMilliseconds();
        string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        string Ms(List<double> v) => v.Count == 0 ? "n/a" : $"median {LoadRun.Percentile(v, 50):F0} ms, max {v.Max():F0} ms (n={v.Count})";
        Console.WriteLine();
        Console.WriteLine($"bad canary serving traffic, CanaryFlow (interval 4 s, failureLimit 2): median {F(Median(cfServing))} s, max {F(cfServing.DefaultIfEmpty().Max())} s");
        Console.WriteLine($"bad canary serving traffic, Flagger defaults ÷{Scale} (interval 12 s, failureLimit 5): median {F(Median(flServing))} s → ×{Scale} = {F(Median(flServing) * Scale)} s at interval 1 m");
        Console.WriteLine($"analysis query that saw the breach → 100% stable in the VS: CanaryFlow {Ms(cfTick)}; Flagger-default group {Ms(flTick)}");
        Console.WriteLine($"Alertmanager alert received → 100% stable in the VS: {Ms(alertMs)}");
        Console.WriteLine($"load average {ControllerSettings.LoadAverage():F1}");
        return wrong == 0 && alertTracker.AllAborted ? 0 : 1;
    }

    private static List<BenchService> Group(string prefix, int n, TimeSpan interval, int failureLimit, bool faulty) =>
        Enumerable.Range(0, n).Select(i => new BenchService(Ns, $"{prefix}-{i:D2}", faulty, 20, 100, interval, failureLimit)).ToList();

    private static double Median(List<double> v) => v.Count == 0 ? double.NaN : LoadRun.Percentile(v, 50);

    /// <summary>First canary weight above 0 → back to 0, per service.</summary>
    private static List<double> ServingSeconds(LoadRun run, IEnumerable<BenchService> group) =>
        group.Select(s => run.Cluster.Weights.History(s.Name))
            .Where(h => h.Any(c => c.CanaryWeight > 0) && h.SkipWhile(c => c.CanaryWeight == 0).Any(c => c.CanaryWeight == 0))
            .Select(h =>
            {
                var first = h.First(c => c.CanaryWeight > 0).At;
                return (h.SkipWhile(c => c.CanaryWeight == 0).First(c => c.CanaryWeight == 0).At - first).TotalSeconds;
            }).ToList();

    /// <summary>Releases the alerted group; once a canary serves traffic, posts a firing alert for it to the controller.</summary>
    private sealed class AlertedTracker(LoadRun run, IReadOnlyList<BenchService> group)
    {
        private readonly RolloutTracker _tracker = new(run.Cluster, group);
        private readonly Dictionary<string, TimeSpan> _alertedAt = [];
        private readonly HttpClient _http = new() { BaseAddress = run.ControllerUrl, Timeout = TimeSpan.FromSeconds(10) };

        public bool AllAborted => group.All(s => _alertedAt.ContainsKey(s.Name) && run.Cluster.Weights.CurrentWeight(s.Name) == 0);

        public void Poll()
        {
            _tracker.Poll();
            foreach (var s in group.Where(s => !_alertedAt.ContainsKey(s.Name) && run.Cluster.Weights.CurrentWeight(s.Name) > 0))
            {
                _alertedAt[s.Name] = run.Clock.Elapsed;
                using var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/alertmanager") { Content = new StringContent(Alert(s), Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LoadRun.AlertmanagerToken);
                using var response = _http.Send(request);
                Console.WriteLine($"  {run.Clock.Elapsed.TotalSeconds:F1}s alert for {s.Name} at weight {run.Cluster.Weights.CurrentWeight(s.Name)}: {(int)response.StatusCode}");
            }
        }

        public List<double> ReactionMilliseconds() =>
            group.Where(s => _alertedAt.ContainsKey(s.Name))
                .Select(s => run.Cluster.Weights.History(s.Name).FirstOrDefault(c => c.CanaryWeight == 0 && c.At > _alertedAt[s.Name]))
                .Zip(group.Where(s => _alertedAt.ContainsKey(s.Name)))
                .Where(p => p.First is not null)
                .Select(p => (p.First!.At - _alertedAt[p.Second.Name]).TotalMilliseconds).ToList();

        private static string Alert(BenchService s) => $$"""
            {"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"canaryflow","groupLabels":{},"commonLabels":{},
             "commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","alerts":[{"status":"firing","labels":{"alertname":"CanaryErrorBudgetBurn",
             "canary":"{{s.Namespace}}/{{s.Name}}","severity":"page"},"annotations":{"summary":"error budget burning"},"startsAt":"{{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}}",
             "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"{{s.Name}}"}]}
            """;
    }
}
