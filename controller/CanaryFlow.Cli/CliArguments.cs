using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>The parsed command line: a verb, an optional "ns/name", and --options.</summary>
public sealed record CliArguments(
    string Verb,
    RolloutTarget? Target,
    Uri? Controller,
    Uri? RabbitMq,
    string? Reason,
    string Actor,
    bool Watch,
    TimeSpan Interval)
{
    public static readonly string[] CommandVerbs = ["promote", "abort", "pause", "resume", "retry"];

    public const string Usage = """
        Usage: canaryflow <command> [NAMESPACE/NAME] [options]

        Commands:
          list                         rollouts known to the controller
          status NS/NAME [--watch]     weight, latest analysis and step history
          promote NS/NAME [--reason R] finish now (or pass an approval gate)
          abort NS/NAME --reason R     roll back now
          pause NS/NAME [--reason R]   stay at the current weight
          resume NS/NAME [--reason R]  continue
          retry NS/NAME [--reason R]   run a failed rollout again from the first step

        Options:
          --controller URL   controller HTTP API (env CANARYFLOW_CONTROLLER)
          --rabbitmq URI     amqp://user:pass@host:5672/vhost (env CANARYFLOW_RABBITMQ)
          --actor NAME       who asks (default cli:$USER)
          --interval SEC     refresh period for --watch (default 2)

        Exit codes: 0 ok, 2 usage, 3 rollout not found, 4 bus or controller unreachable.
        """;

    /// <exception cref="CliException">With <see cref="ExitCodes.Usage"/> when the line is not valid.</exception>
    public static CliArguments Parse(IReadOnlyList<string> args, Func<string, string?> env)
    {
        var positional = new List<string>();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var watch = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--watch" or "-w") { watch = true; continue; }
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = arg.IndexOf('=');
                var (name, value) = eq > 0 ? (arg[2..eq], arg[(eq + 1)..]) : (arg[2..], i + 1 < args.Count ? args[++i] : throw Fail($"{arg} needs a value."));
                if (name is not ("controller" or "rabbitmq" or "reason" or "actor" or "interval")) throw Fail($"Unknown option --{name}.");
                options[name] = value;
                continue;
            }
            positional.Add(arg);
        }
        if (positional.Count == 0) throw Fail("No command given.");
        var verb = positional[0].ToLowerInvariant();
        if (verb is not ("list" or "status") && !CommandVerbs.Contains(verb)) throw Fail($"Unknown command '{positional[0]}'.");
        if (positional.Count > (verb == "list" ? 1 : 2)) throw Fail($"Unexpected argument '{positional[^1]}'.");
        RolloutTarget? target = null;
        if (verb != "list")
        {
            if (positional.Count < 2) throw Fail($"'{verb}' needs NAMESPACE/NAME.");
            target = RolloutTarget.TryParse(positional[1]) ?? throw Fail($"'{positional[1]}' is not NAMESPACE/NAME.");
        }
        var reason = options.GetValueOrDefault("reason");
        if (verb == "abort" && string.IsNullOrWhiteSpace(reason)) throw Fail("'abort' needs --reason, so that the history says why.");
        var interval = 2.0;
        if (options.TryGetValue("interval", out var seconds) && (!double.TryParse(seconds, System.Globalization.CultureInfo.InvariantCulture, out interval) || interval is < 0.2 or > 3600))
            throw Fail("--interval must be a number of seconds between 0.2 and 3600.");
        return new CliArguments(verb, target,
            Url(options.GetValueOrDefault("controller") ?? env("CANARYFLOW_CONTROLLER"), "--controller", "http", "https"),
            Url(options.GetValueOrDefault("rabbitmq") ?? env("CANARYFLOW_RABBITMQ"), "--rabbitmq", "amqp", "amqps", "rabbitmq"),
            reason,
            options.GetValueOrDefault("actor") ?? "cli:" + (env("USER") ?? Environment.UserName),
            watch,
            TimeSpan.FromSeconds(interval));
    }

    private static Uri? Url(string? text, string option, params string[] schemes)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme)
            ? uri
            : throw Fail($"{option} must be a URL with scheme {string.Join(" or ", schemes)}.");
    }

    private static CliException Fail(string message) => new(ExitCodes.Usage, message + "\n\n" + Usage);
}
