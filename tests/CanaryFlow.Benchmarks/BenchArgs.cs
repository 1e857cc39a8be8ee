namespace CanaryFlow.Benchmarks;

/// <summary>A harness' command line (<c>--name value</c> and bare flags), read one way by every harness.</summary>
public sealed class BenchArgs(string[] args)
{
    public int Int(string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;

    public string? Text(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    public bool Flag(string name) => args.Contains(name);

    public TimeSpan Seconds(string name, int fallback) => TimeSpan.FromSeconds(Int(name, fallback));

    /// <summary>What every harness of many rollouts takes: <c>--rollouts</c>, <c>--interval-seconds</c> (the analysis
    /// interval) and <c>--time-limit-s</c> (the bound of the whole run).</summary>
    public (int Rollouts, TimeSpan Interval, TimeSpan Limit) Run(int rollouts, int intervalSeconds, int limitSeconds) =>
        (Int("--rollouts", rollouts), Seconds("--interval-seconds", intervalSeconds), Seconds("--time-limit-s", limitSeconds));
}
