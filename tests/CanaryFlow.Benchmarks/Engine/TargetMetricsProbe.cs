using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Observability;
using Prometheus;

namespace CanaryFlow.Benchmarks.Engine;

/// <summary>
/// Issue 15, what the controller's per-target metrics keep per Canary, in process (bytes, not time: no benchmark lock
/// needed): the recorder is fed as the bus feeds it, for N targets, one whole rollout each (Initializing, a weight per
/// step with a passed check at each, Promoting, Succeeded), every message with strings of its own as a deserialised
/// message has them. Then a full collection, and the managed heap kept per target; and what one /metrics exposition
/// writes and allocates. Figures for docs/benchmarks.md, never assertions.
/// </summary>
public static class TargetMetricsProbe
{
    private static readonly int[] Steps = [10, 20, 30, 40, 50];
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new BenchArgs(args);
        var targets = a.Int("--targets", 1000);
        var namespaces = a.Int("--namespaces", 10);
        Console.WriteLine($"target metrics: {targets:N0} targets over {namespaces} namespaces, one rollout of {Steps.Length} steps each, " +
                          $"a passed check per step; load average {ControllerSettings.LoadAverage():F1}");

        var metrics = new CanaryFlowMetrics(Metrics.NewCustomRegistry());
        var recorder = new RolloutMetricsRecorder(metrics);
        // One rollout of a target of every namespace first: what is paid once (JIT, the registry's families, the
        // per-namespace children) is not counted per target below.
        for (var n = 0; n < namespaces; n++) Rollout(recorder, $"ns-{n}", "warm-up");
        var (series0, _) = await ExposeAsync(metrics);

        var before = SettledHeap();
        for (var i = 0; i < targets; i++) Rollout(recorder, $"ns-{i % namespaces}", $"svc-{i:D5}");
        var kept = SettledHeap() - before;
        Console.WriteLine($"  heap kept: {kept / 1024.0 / 1024:F2} MiB, {kept / (double)targets:F0} bytes a target");

        var (series, bytes) = await ExposeAsync(metrics);
        // Into a stream that keeps nothing: the allocation of the exposition itself, not of a copy of its text.
        await ExposeAsync(metrics, Stream.Null);
        var allocated0 = GC.GetAllocatedBytesForCurrentThread();
        await ExposeAsync(metrics, Stream.Null);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocated0;
        Console.WriteLine($"  /metrics: {series:N0} series ({(series - series0) / (double)targets:F1} a target), {bytes / 1024.0:F0} KiB, " +
                          $"one exposition allocated {allocated / 1024.0:F0} KiB");

        // Every Canary deleted: what the recorder still keeps of them.
        for (var i = 0; i < targets; i++) recorder.Forget(RolloutIds.ForTarget(new RolloutTarget($"ns-{i % namespaces}", $"svc-{i:D5}")));
        var left = SettledHeap() - before;
        Console.WriteLine($"  after every Canary's deletion: {left / 1024.0:F0} KiB still kept, {left / (double)targets:F0} bytes a target");
        GC.KeepAlive(recorder);
        return 0;
    }

    /// <summary>The transitions and verdicts one rollout sends the recorder, a minute a step.</summary>
    private static void Rollout(RolloutMetricsRecorder recorder, string ns, string name)
    {
        var id = RolloutIds.ForTarget(new RolloutTarget(ns, name));
        var rollout = RolloutIds.ForRevision(new RolloutTarget(ns, name), "v2");
        var version = 0L;
        void Send(string from, string phase, int weight, int minute) => recorder.Record(new RolloutTransitioned(
            id, rollout, Fresh(ns, name), Copy("5e717dc44b"), Copy("781e0fd662"), Copy(from), Copy(phase), weight, weight, 0, Steps.Length, 0, 0,
            Copy("why"), null, ++version, T0.AddMinutes(minute)));

        Send("", RolloutPhases.Initializing, 0, 0);
        var minute = 1;
        foreach (var w in Steps)
        {
            Send(RolloutPhases.Progressing, RolloutPhases.Progressing, w, minute++);
            recorder.RecordCheck(id, VerdictKind.Passed);
        }
        Send(RolloutPhases.Progressing, RolloutPhases.Promoting, 100, minute++);
        Send(RolloutPhases.Promoting, RolloutPhases.Succeeded, 0, minute);
    }

    // A deserialised message has strings of its own: never the probe's literals.
    private static RolloutTarget Fresh(string ns, string name) => new(Copy(ns), Copy(name));

    private static string Copy(string s) => new(s.AsSpan());

    /// <summary>Series and bytes of one exposition; its text is not kept (it would count as kept by the recorder).</summary>
    private static async Task<(int Series, long Bytes)> ExposeAsync(CanaryFlowMetrics metrics)
    {
        using var stream = new MemoryStream();
        await ExposeAsync(metrics, stream);
        stream.Position = 0;
        using var reader = new StreamReader(stream);
        var series = 0;
        while (await reader.ReadLineAsync() is { } line)
            if (line.Length > 0 && !line.StartsWith('#')) series++;
        return (series, stream.Length);
    }

    // What /metrics serves: the per-target families written at scrape time, then the registry's.
    private static Task ExposeAsync(CanaryFlowMetrics metrics, Stream to) => metrics.ExportAsync(to, ExpositionFormat.PrometheusText);

    private static long SettledHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }
}
