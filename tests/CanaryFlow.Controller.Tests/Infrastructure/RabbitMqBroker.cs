using System.Net.Sockets;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>
/// The real RabbitMQ the tests use, on 127.0.0.1. `.ci/run` starts one and sets
/// CANARYFLOW_RABBITMQ_PORT and CANARYFLOW_RABBITMQ_DIR; when they are absent (a developer running `dotnet test`), the
/// same script starts a private broker for this test run. Each test gets its own virtual host, so
/// tests running side by side never see each other's messages.
/// </summary>
public sealed class RabbitMqBroker
{
    private static readonly SemaphoreSlim StartLock = new(1, 1);
    private static RabbitMqBroker? _shared;

    public int Port { get; }

    public Uri AmqpUri => new($"amqp://guest:guest@127.0.0.1:{Port}/");
    /// <summary>The broker's private folder (data, logs, Erlang cookie), as .ci/services.sh lays it out.</summary>
    private string Directory { get; }

    private RabbitMqBroker(int port, string directory)
    {
        Port = port;
        Directory = directory;
    }

    public static async Task<RabbitMqBroker> SharedAsync()
    {
        await StartLock.WaitAsync();
        try
        {
            if (_shared != null) return _shared;
            var port = Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_PORT");
            if (port != null)
            {
                _shared = new RabbitMqBroker(int.Parse(port), Environment.GetEnvironmentVariable("CANARYFLOW_RABBITMQ_DIR")
                    ?? throw new InvalidOperationException("CANARYFLOW_RABBITMQ_DIR is not set (bash .ci/run sets it)"));
            }
            else
            {
                var dir = System.IO.Directory.CreateTempSubdirectory("canaryflow-rabbit-").FullName;
                var free = FreePort();
                await Script($"source .ci/services.sh; ensure_rabbitmq; start_rabbitmq '{dir}' {free}");
                _shared = new RabbitMqBroker(free, dir);
                ServicesScript.RunAtExit($"source .ci/services.sh; stop_rabbitmq '{dir}'");
            }
            return _shared;
        }
        finally
        {
            StartLock.Release();
        }
    }

    /// <summary>A fresh virtual host that only the calling test uses.</summary>
    public async Task<string> NewVirtualHostAsync(string name)
    {
        var vhost = $"{name}-{Guid.NewGuid():N}"[..Math.Min(60, name.Length + 33)];
        await Ctl($"add_vhost {vhost}");
        await Ctl($"set_permissions -p {vhost} guest \".*\" \".*\" \".*\"");
        return vhost;
    }

    /// <summary>Stops and starts the broker application, as an operator's restart would (connections drop).</summary>
    public async Task RestartAsync()
    {
        await Ctl("stop_app");
        await Ctl("start_app");
        await Ctl("await_startup");
    }

    private Task Ctl(string args) => Script($"source .ci/services.sh; rabbitmqctl_in '{Directory}' -q {args}");

    private static Task Script(string command) => ServicesScript.RunAsync(command);

    public static int FreePort()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>xunit class fixture for the shared broker.</summary>
public sealed class SharedRabbitMq : IAsyncLifetime
{
    public RabbitMqBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await RabbitMqBroker.SharedAsync();

    public Task DisposeAsync() => Task.CompletedTask;
}
