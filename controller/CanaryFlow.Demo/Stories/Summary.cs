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
        if (Directory.Exists(reportsDirectory)) foreach (var f in Directory.EnumerateFiles(reportsDirectory)) Console.WriteLine($"  {f}");
        Console.WriteLine($"Done in {elapsed.TotalSeconds:F0} s: {(ok ? "every release ended as expected" : "SOME RELEASES DID NOT END AS EXPECTED")}");
        return ok;
    }
}
