using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Kubernetes;

namespace CanaryFlow.Controller.Tests.Bus;

/// <summary>
/// A controller inside a cluster makes no outbound connection its user did not configure: the real
/// controller process, traced with strace, connects only to 127.0.0.1 at the ports it was given (Kubernetes
/// API, RabbitMQ, Prometheus). MassTransit's usage telemetry (on by default) would call its vendor's host,
/// and resolving that name alone shows up as a connect() to the DNS resolver.
/// </summary>
public sealed class OutboundConnectionTests
{
    /// <summary>Long enough for MassTransit's usage report (brought forward by <see cref="UsageReportSooner"/>) to go out when it is on.</summary>
    private static readonly TimeSpan Observe = UsageReportSooner.Delay + TimeSpan.FromSeconds(5);

    [Fact]
    public Task In_memory_bus_controller_connects_only_to_the_addresses_it_was_given() => RunAndCheck(null);


    [Fact]
    public void A_connect_to_a_public_address_or_the_dns_resolver_is_caught()
    {
        string[] trace =
        [
            """4242  connect(31, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:104.21.3.7", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)""",
            """4243  connect(32, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0""",
            """4244  connect(33, {sa_family=AF_INET, sin_port=htons(6443), sin_addr=inet_addr("127.0.0.1")}, 16) = 0""",
            """4245  connect(34, {sa_family=AF_INET6, sin6_port=htons(6443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0""",
            """4246  connect(35, {sa_family=AF_INET, sin_port=htons(7000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0""",
            """4247  connect(36, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)""",
            """4248  connect(37, {sa_family=AF_INET, <something strace prints differently>}, 16) = 0""",
        ];
        var notGiven = ConnectTrace.NotGiven(ConnectTrace.InetConnects(trace), new HashSet<int> { 6443 });
        Assert.Equal(["::ffff:104.21.3.7:443", "10.255.255.53:53", "127.0.0.1:7000", "?:-1"], notGiven.Select(a => $"{a.Address}:{a.Port}"));
    }

    internal static async Task RunAndCheck((int Port, string VirtualHost)? rabbit)
    {
        Assert.True(File.Exists("/usr/bin/strace") || File.Exists("/bin/strace"),
            "strace is not installed, so this test cannot see the controller's connections: apt-get install strace (.ci/run installs it)");
        await using var sandbox = await SandboxKubernetesServer.StartAsync();
        var folder = Directory.CreateTempSubdirectory("canaryflow-outbound-").FullName;
        var http = RabbitMqBroker.FreePort();
        var prometheus = RabbitMqBroker.FreePort(); // given but not listening: the controller may try it, nothing else
        var settings = new Dictionary<string, string>
        {
            ["urls"] = $"http://127.0.0.1:{http}",
            ["Kubernetes:KubeconfigPath"] = sandbox.KubeconfigPath,
            ["Kubernetes:Namespaces:0"] = "outbound",
            ["Prometheus:Address"] = $"http://127.0.0.1:{prometheus}/",
            ["Rollouts:StateDirectory"] = Path.Combine(folder, "state"),
            ["Notifications:DataPath"] = Path.Combine(folder, "notifications"),
            ["Bus:Transport"] = rabbit is null ? "InMemory" : "RabbitMq",
            // Under strace every syscall is slow: a Lease renewal that took over the default 10 s once stopped the
            // controller (as it must) before the observation ended (CI, 2026-12-06). The Lease calls still go out.
            ["Kubernetes:LeaseDuration"] = "00:02:00",
            ["Kubernetes:RenewDeadline"] = "00:01:40",
        };
        var allowed = new HashSet<int> { sandbox.BaseAddress.Port, prometheus };
        if (rabbit is { } r)
        {
            settings["Bus:RabbitMq:Port"] = r.Port.ToString();
            settings["Bus:RabbitMq:VirtualHost"] = r.VirtualHost;
            allowed.Add(r.Port);
        }

        var trace = Path.Combine(folder, "connect.strace");
        await using (var controller = ControllerProcess.Start(settings, straceOutput: trace, hostingStartup: typeof(UsageReportSooner)))
        {
            await WaitUntilReady(controller, http);
            await Task.Delay(Observe);
            Assert.False(controller.HasExited, "the controller stopped: " + controller.Stderr + controller.Stdout);
        }

        var connects = ConnectTrace.InetConnects(File.ReadLines(trace));
        Assert.Contains(connects, c => c.IsLoopbackV4 && c.Port == sandbox.BaseAddress.Port); // the trace does see connections
        var notGiven = ConnectTrace.NotGiven(connects, allowed);
        Assert.True(notGiven.Count == 0, "connections nobody configured:\n" + string.Join("\n", notGiven.Select(a => a.Line)));
    }

    private static async Task WaitUntilReady(ControllerProcess controller, int port)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            Assert.False(controller.HasExited, "the controller stopped: " + controller.Stderr + controller.Stdout);
            try
            {
                if ((await client.GetAsync($"http://127.0.0.1:{port}/readyz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        Assert.Fail("the controller was not ready within 60 s: " + controller.Stderr + controller.Stdout);
    }
}

/// <summary>The same on the RabbitMQ bus (its own class, so that the two ~40 s runs go side by side).</summary>
public sealed class RabbitMqOutboundConnectionTests
{
    [Fact]
    public async Task RabbitMq_bus_controller_connects_only_to_the_addresses_it_was_given()
    {
        var broker = await RabbitMqBroker.SharedAsync();
        var vhost = await broker.NewVirtualHostAsync("outbound");
        await OutboundConnectionTests.RunAndCheck((broker.Port, vhost));
    }
}
