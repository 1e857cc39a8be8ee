using CanaryFlow.Contracts;

namespace CanaryFlow.Controller.Seams;

/// <summary>
/// Flagger's naming, which users know: the target Deployment runs the canary; a copy named
/// "&lt;name&gt;-primary" runs the stable version and takes the traffic between rollouts.
/// </summary>
public static class WorkloadNames
{
    public static string Canary(RolloutTarget target) => target.Name;

    public static string Stable(RolloutTarget target) => $"{target.Name}-primary";
}
