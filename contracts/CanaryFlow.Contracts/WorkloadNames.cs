namespace CanaryFlow.Contracts;

/// <summary>
/// Flagger's naming, which users know and every part of CanaryFlow shares (controller, analysis,
/// alerts): the target Deployment runs the canary; "&lt;name&gt;-primary" runs the stable version and
/// takes the traffic between rollouts; "&lt;name&gt;-baseline" is an optional fresh copy of stable.
/// </summary>
public static class WorkloadNames
{
    public const string StableSuffix = "-primary";
    public const string BaselineSuffix = "-baseline";

    public static string Canary(RolloutTarget target) => target.Name;

    public static string Stable(RolloutTarget target) => target.Name + StableSuffix;

    public static string Baseline(RolloutTarget target) => target.Name + BaselineSuffix;

    /// <summary>Whether a workload name is a stable or baseline copy rather than a canary.</summary>
    public static bool IsCopy(string workload) =>
        workload.EndsWith(StableSuffix, StringComparison.Ordinal) || workload.EndsWith(BaselineSuffix, StringComparison.Ordinal);
}
