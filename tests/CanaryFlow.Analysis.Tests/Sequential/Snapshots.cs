using CanaryFlow.Analysis.Sequential;

namespace CanaryFlow.Analysis.Tests.Sequential;

/// <summary>Counter snapshots without a histogram, for the tests of the error-rate evidence.</summary>
internal static class Snapshots
{
    /// <summary>Canary requests and 5xx, stable requests and 5xx.</summary>
    public static CounterSnapshot Counts(double cr, double ce, double sr, double se) =>
        new(ArmCounters.Counts(cr, ce), ArmCounters.Counts(sr, se), []);
}
