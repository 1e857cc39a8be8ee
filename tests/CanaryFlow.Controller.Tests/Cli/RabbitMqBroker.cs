using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CanaryFlow.Controller.Tests.Cli;

/// <summary>
/// A real RabbitMQ for the CLI tests. CI provides one (env CANARYFLOW_RABBITMQ_PORT, guest/guest on
/// 127.0.0.1); otherwise this starts a private broker from the installed server, on loopback, on free
/// ports, with its own data folder, and shuts it down afterwards. (epmd, shared by every Erlang node on
/// the machine, is left running.)
/// </summary>
public sealed class RabbitMqBroker : IAsyncLifetime
{
    private const string ServerBinary = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string CtlBinary = "/usr/lib/rabbitmq/bin/rabbitmqctl";

    private Process? _server;
    private string? _folder;
    private Dictionary<string, string>? _environment;

    public int Port { get; private set; }

    public Uri AmqpUri => new($"amqp://guest:guest@127.0.0.1:{Port}/");

    public async Task InitializeAsync()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_PORT"), out var port))
        {
            Port = port;
            return;
        }
        Assert.True(File.Exists(ServerBinary), $"Set CANARYFLOW_RABBITMQ_PORT or install RabbitMQ ({ServerBinary}).");
        _folder = Directory.CreateTempSubdirectory("canaryflow-rabbitmq-").FullName;
        Port = FreePort();
        foreach (var sub in new[] { "home", "mnesia", "log" }) Directory.CreateDirectory(Path.Combine(_folder, sub));
        File.WriteAllText(Path.Combine(_folder, "enabled_plugins"), "[].");
        File.WriteAllText(Path.Combine(_folder, "rabbitmq.conf"), "");
        _environment = new Dictionary<string, string>
        {
            ["HOME"] = Path.Combine(_folder, "home"),
            ["RABBITMQ_NODENAME"] = $"canaryflow-cli-{Environment.ProcessId}-{Port}@localhost",
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port.ToString(),
            ["RABBITMQ_DIST_PORT"] = FreePort().ToString(),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_folder, "log"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_folder, "enabled_plugins"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_folder, "rabbitmq.conf"),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
        };
        _server = Start(ServerBinary);
        for (var i = 0; i < 240 && !await AcceptsAsync(Port); i++)
        {
            Assert.False(_server.HasExited, "rabbitmq-server exited while starting; see " + _folder);
            await Task.Delay(250);
        }
        Assert.True(await AcceptsAsync(Port), "RabbitMQ did not open its port within 60 s");
    }

    public async Task DisposeAsync()
    {
        if (_server is null) return;
        using (var ctl = Start(CtlBinary, "-q", "shutdown"))
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await ctl.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { ctl.Kill(true); }
        }
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            try { await _server.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _server.Kill(true); }
        }
        _server.Dispose();
        try { Directory.Delete(_folder!, recursive: true); } catch (IOException) { }
    }

    private Process Start(string binary, params string[] args)
    {
        var info = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (key, value) in _environment!) info.Environment[key] = value;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try { await client.ConnectAsync(IPAddress.Loopback, port); return true; }
        catch (SocketException) { return false; }
    }
}
