
namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>
/// A 3-node RabbitMQ cluster on 127.0.0.1 (.ci/services.sh start_rabbitmq_cluster). Reuses the one named by
/// CANARYFLOW_RABBITMQ_CLUSTER_PORTS / CANARYFLOW_RABBITMQ_CLUSTER_DIR when set; else starts a private one for this
/// test run (about 20 s) and stops it at exit.
/// </summary>
public sealed class RabbitMqCluster
{
    private static readonly SemaphoreSlim StartLock = new(1, 1);
    private static RabbitMqCluster? _shared;

    private RabbitMqCluster(IReadOnlyList<int> ports, string directory) => (Ports, Directory) = (ports, directory);

    public IReadOnlyList<int> Ports { get; }
    public string Directory { get; }

    public static async Task<RabbitMqCluster> SharedAsync()
    {
        await StartLock.WaitAsync();
        try
        {
            if (_shared != null) return _shared;
            if (Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_CLUSTER_PORTS") is { Length: > 0 } ports)
                return _shared = new RabbitMqCluster(ports.Split(',').Select(int.Parse).ToList(),
                    Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_CLUSTER_DIR") ?? throw new InvalidOperationException("CANARYFLOW_RABBITMQ_CLUSTER_DIR is not set"));
            var dir = System.IO.Directory.CreateTempSubdirectory("canaryflow-rabbit-cluster-").FullName;
            var port = FreePorts();
            try { await Script($"source .ci/services.sh; ensure_rabbitmq; start_rabbitmq_cluster '{dir}' {port} {port + 1000}"); }
            catch (InvalidOperationException)
            {
                await Script($"source .ci/services.sh; stop_rabbitmq_cluster '{dir}' || true"); // the nodes that did start must not outlive the run
                throw;
            }
            _shared = new RabbitMqCluster([port, port + 1, port + 2], dir);
            ServicesScript.RunAtExit($"source .ci/services.sh; stop_rabbitmq_cluster '{dir}'");
            return _shared;
        }
        finally { StartLock.Release(); }
    }

    /// <summary>A first port whose three node ports and three distribution ports (+1000) are free now: above the real
    /// control plane's picks (20000-30000) and below Linux's ephemeral range (32768 and up), where any outgoing
    /// connection may take a port between this check and the node's listen (a CI run failed so: eaddrinuse on node 2).</summary>
    private static int FreePorts()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = Random.Shared.Next(30000, 31700);
            if (new[] { 0, 1, 2, 1000, 1001, 1002 }.All(d => IsFree(port + d))) return port;
        }
        throw new InvalidOperationException("no free ports for a RabbitMQ cluster between 30000 and 32701");
    }

    private static bool IsFree(int port)
    {
        try
        {
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    /// <summary>SIGKILL one node (1..3): no clean shutdown, as a crashed machine.</summary>
    public Task KillNodeAsync(int node) => Script($"source .ci/services.sh; kill_rabbitmq_node '{Directory}/n{node}'");

    /// <summary>Starts a killed node again; it rejoins the cluster.</summary>
    public Task StartNodeAsync(int node) =>
        Script($"source .ci/services.sh; start_rabbitmq_node '{Directory}/n{node}'; wait_tcp 127.0.0.1 {Ports[node - 1]} 90; rabbitmqctl_node '{Directory}/n{node}' -q await_startup");

    public async Task<string> NewVirtualHostAsync(string name)
    {
        var vhost = $"{name}-{Guid.NewGuid():N}"[..Math.Min(60, name.Length + 33)];
        await Script($"source .ci/services.sh; rabbitmqctl_node '{Directory}/n1' -q add_vhost {vhost}; rabbitmqctl_node '{Directory}/n1' -q set_permissions -p {vhost} guest '.*' '.*' '.*'");
        return vhost;
    }

    /// <summary>Each queue of <paramref name="vhost"/> and its type (classic, quorum), as the broker reports them.</summary>
    public async Task<Dictionary<string, string>> QueueTypesAsync(string vhost)
    {
        var output = await Script($"source .ci/services.sh; rabbitmqctl_node '{Directory}/n1' -q list_queues -p {vhost} --no-table-headers name type");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(c => c.Length == 2)
            .ToDictionary(c => c[0].Trim(), c => c[1].Trim());
    }

    private static Task<string> Script(string command) => ServicesScript.RunAsync(command);
}
