using CanaryFlow.Contracts;

namespace CanaryFlow.Demo.Stories;

/// <summary>How one story ended: the controller's last view of it, what the stable version runs now, and the
/// canary's share of traffic in the VirtualService.</summary>
public sealed record StoryOutcome(DemoStory Story, RolloutStatusView? Final, string StableRuns, int CanaryWeight);

/// <summary>The table the demo ends with, and the report files the controller wrote.</summary>
public static class Summary
{
    /// <returns>True when every story ended as expected.</returns>
    public static bool Print(IReadOnlyList<StoryOutcome> outcomes, string reportsDirectory, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine($"{"service",-9} {"expected",-10} {"outcome",-10} {"stable runs",-26} {"canary",-6} checks failed");
        var ok = true;
        foreach (var o in outcomes)
        {
            var outcome = o.Final?.Phase ?? "timed out";
            ok &= outcome == o.Story.ExpectedPhase;
            Console.WriteLine($"{o.Story.Name,-9} {o.Story.ExpectedPhase,-10} {outcome,-10} {o.StableRuns,-26} {o.CanaryWeight,3}%   {o.Final?.FailedChecks ?? 0}");
        }
        Console.WriteLine($"Reports (timeline per rollout): {reportsDirectory}");
        var finished = outcomes.Count(o => o.Final?.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed);
        foreach (var f in Reports(reportsDirectory, expected: 2 * finished, ReportWait)) Console.WriteLine($"  {f}");
        Console.WriteLine($"Done in {elapsed.TotalSeconds:F0} s: {(ok ? "every release ended as expected" : "SOME RELEASES DID NOT END AS EXPECTED")}");
        return ok;
    }

    /// <summary>How long the summary waits for reports still being written.</summary>
    public static readonly TimeSpan ReportWait = TimeSpan.FromSeconds(10);

    /// <summary>The report files once those being written are done (a PNG and an SVG per finished rollout): the
    /// controller draws a report just after the rollout's status says it ended, and a listing taken at once showed a
    /// half-written ".tmp". Bounded by <paramref name="wait"/>; never lists a ".tmp".</summary>
    public static IReadOnlyList<string> Reports(string directory, int expected, TimeSpan wait)
    {
        var until = DateTime.UtcNow + wait;
        while (true)
        {
            var files = Directory.Exists(directory) ? Directory.GetFiles(directory) : [];
            var done = files.Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            if ((done.Count >= expected && done.Count == files.Length) || DateTime.UtcNow >= until) return done;
            Thread.Sleep(100);
        }
    }
}
