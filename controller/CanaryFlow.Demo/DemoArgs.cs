using System.Globalization;
using CanaryFlow.Demo.Stories;

namespace CanaryFlow.Demo;

/// <summary>The demo's command line: <c>--name value</c> or <c>--name=value</c>, and bare flags. Anything unknown
/// or malformed is a <see cref="DemoUsageException"/> that names the option, never a crash.</summary>
public sealed class DemoArgs
{
    public const string Usage = """
        Usage: dotnet run --project controller/CanaryFlow.Demo [-- options]
          embedded (default): a sandbox Kubernetes API, a simulated mesh and a local Prometheus
            --bus inmemory|rabbitmq   --rabbitmq-port 5672   --interval-seconds 4
          real cluster: --kubeconfig PATH --prometheus-url URL
            [--context NAME] [--namespace canaryflow-demo] [--interval-seconds 30] [--requests-per-second 10]
            [--timeout 20m] [--keep] [--bus inmemory|rabbitmq] [--rabbitmq-port 5672]
        """;

    private static readonly HashSet<string> Valued =
    [
        "--bus", "--rabbitmq-port", "--interval-seconds", "--kubeconfig", "--context", "--namespace", "--prometheus-url",
        "--timeout", "--requests-per-second",
    ];
    private static readonly HashSet<string> Flags = ["--keep"];

    private readonly Dictionary<string, string> _values = [];
    private readonly HashSet<string> _flags = [];

    public static DemoArgs Parse(IReadOnlyList<string> args)
    {
        var parsed = new DemoArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var (name, inline) = args[i].Split('=', 2) is [var n, var v] ? (n, v) : (args[i], null);
            if (Flags.Contains(name) && inline is null) { parsed._flags.Add(name); continue; }
            if (!Valued.Contains(name)) throw new DemoUsageException($"unknown option '{args[i]}'");
            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new DemoUsageException($"{name} needs a value"));
            parsed._values[name] = value;
        }
        return parsed;
    }

    public bool Has(string name) => _values.ContainsKey(name) || _flags.Contains(name);

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Get(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    public int Int(string name, int fallback, int min, int max)
    {
        if (!_values.TryGetValue(name, out var text)) return fallback;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new DemoUsageException($"{name} must be a whole number from {min} to {max}, got '{text}'");
    }

    /// <summary>"90s", "20m", "1h"; a bare number is minutes.</summary>
    public TimeSpan Duration(string name, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        if (!_values.TryGetValue(name, out var text)) return fallback;
        var (digits, unit) = text.Length > 0 && char.IsLetter(text[^1]) ? (text[..^1], text[^1]) : (text, 'm');
        TimeSpan? value = int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? unit switch { 's' => TimeSpan.FromSeconds(n), 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), _ => null }
            : null;
        return value is { } v && v >= min && v <= max
            ? v : throw new DemoUsageException($"{name} must be a duration such as 90s, 20m or 1h, from {min} to {max}; got '{text}'");
    }

    public DemoBus Bus() => Get("--bus", "inmemory") switch
    {
        "inmemory" => new DemoBus(false, Int("--rabbitmq-port", 5672, 1, 65535)),
        "rabbitmq" => new DemoBus(true, Int("--rabbitmq-port", 5672, 1, 65535)),
        var other => throw new DemoUsageException($"--bus must be inmemory or rabbitmq, got '{other}'"),
    };
}

public sealed class DemoUsageException(string message) : Exception(message);
