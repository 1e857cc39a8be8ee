using System.Security.Cryptography;

namespace CanaryFlow.Benchmarks.Reliability;

/// <summary>The controller's configuration for a harness run: the sandbox cluster, its Prometheus and a
/// RabbitMQ on 127.0.0.1; state in the Canary status (the sandbox), so a restart reads it back from there.</summary>
public static class ControllerSettings
{
    public static Dictionary<string, string> For(SimulatedCluster cluster, string ns, int rabbitMqPort, string work, bool leaderElection = false,
        Uri? notificationWebhook = null)
    {
        var settings = Base(cluster, ns, rabbitMqPort, work, leaderElection);
        if (notificationWebhook is not null)
        {
            settings["Notifications:Channels:ops:Kind"] = "webhook";
            settings["Notifications:Channels:ops:Url"] = notificationWebhook.ToString();
            settings["Notifications:Channels:ops:Secret"] = "harness-webhook-secret-0123456789";
            settings["Notifications:Channels:ops:RatePerMinute"] = "6000";
            settings["Notifications:Defaults:0"] = "ops";
            // Redelivery rounds scaled down like the 4 s analysis interval (defaults: 1 min doubling to 5 min), so
            // that a channel back after a 30 s outage is served within the harness' wait.
            settings["Notifications:RedeliveryDelay"] = "00:00:05";
            settings["Notifications:MaxRedeliveryDelay"] = "00:00:20";
        }
        return settings;
    }

    private static Dictionary<string, string> Base(SimulatedCluster cluster, string ns, int rabbitMqPort, string work, bool leaderElection) => new()
    {
        ["urls"] = "http://127.0.0.1:0",
        ["Logging:LogLevel:Default"] = "Warning",
        ["Kubernetes:KubeconfigPath"] = cluster.Api.KubeconfigPath,
        ["Kubernetes:Namespaces:0"] = ns,
        ["Kubernetes:LeaderElection"] = leaderElection ? "true" : "false",
        ["Kubernetes:LeaseNamespace"] = ns,
        ["Kubernetes:PollInterval"] = "00:00:00.250",
        ["Prometheus:Address"] = cluster.Prometheus.Address.ToString(),
        ["Bus:Transport"] = "RabbitMq",
        ["Bus:RabbitMq:Host"] = "127.0.0.1",
        ["Bus:RabbitMq:Port"] = rabbitMqPort.ToString(),
        ["Rollouts:StateDirectory"] = Path.Combine(work, "state"),
        ["Rollouts:TickPeriod"] = "00:00:00.200",
        ["Rollouts:StallAfter"] = "00:00:05",
        ["Observability:ReportsDirectory"] = Path.Combine(work, "reports"),
        ["Notifications:DataPath"] = Path.Combine(work, "notifications"),
        ["Alertmanager:BearerToken"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
    };

    public static int IntArg(string[] args, string name, int fallback) => new BenchArgs(args).Int(name, fallback);

    public static string? StringArg(string[] args, string name) => new BenchArgs(args).Text(name);

    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
}
