using System.Text.Json.Nodes;
using CanaryFlow.Demo;
using CanaryFlow.Demo.Cluster;
using CanaryFlow.Sandbox.Kubernetes;
using static CanaryFlow.Controller.Tests.Demo.SandboxCluster;

namespace CanaryFlow.Controller.Tests.Demo;

/// <summary>The cluster mode's preflight, setup and options, against the sandbox API server taken as a cluster.</summary>
public sealed class ClusterDemoSetupTests(EmptyPrometheus prometheus) : IClassFixture<EmptyPrometheus>
{
    [Fact]
    public async Task Setup_creates_an_injected_namespace_podinfo_services_a_bounded_load_generator_and_canaries_the_schema_accepts_unchanged()
    {
        await using var sandbox = await StartAsync();
        var options = Options(sandbox, prometheus.Process);
        using var demo = new ClusterDemo(options);
        await demo.PreflightAsync(Bounded());
        var before = DateTimeOffset.UtcNow;
        await demo.ApplyAsync(Bounded());

        var ns = Find(sandbox, ResourceKinds.Namespaces, "", Ns)!;
        Assert.Equal("enabled", (string?)ns["metadata"]!["labels"]!["istio-injection"]);
        foreach (var story in Stories)
        {
            var app = Find(sandbox, ResourceKinds.Deployments, Ns, story.Name)!;
            Assert.Equal(ClusterManifests.StableImage, (string?)Container(app)["image"]);
            Assert.Equal(["./podinfo"], Strings(Container(app)["command"]));
            Assert.Equal(ClusterManifests.HealthyArgs, Strings(Container(app)["args"]));
            Assert.Equal(story.Name, (string?)app["spec"]!["selector"]!["matchLabels"]!["app"]);

            var service = Find(sandbox, ResourceKinds.Services, Ns, story.Name)!;
            Assert.Equal(story.Name, (string?)service["spec"]!["selector"]!["app"]);
            Assert.Equal("http", (string?)service["spec"]!["ports"]![0]!["name"]); // Istio treats the traffic as HTTP
            Assert.Equal(ClusterManifests.Port, (int?)service["spec"]!["ports"]![0]!["port"]);

            // The sandbox validates a Canary against the CRD's schema and prunes unknown fields: stored = sent means valid and complete.
            var sent = story.CanaryManifest(Ns, ClusterManifests.Port, options.Tuning);
            var stored = Find(sandbox, ResourceKinds.Canaries, Ns, story.Name)!;
            Assert.True(JsonNode.DeepEquals(sent["spec"], stored["spec"]), $"{story.Name}: stored {stored["spec"]} differs from sent {sent["spec"]}");
            Assert.Equal(story.ApprovalGate, (bool?)stored["spec"]!["analysis"]!["approval"]!["beforePromotion"]);
        }

        var load = Find(sandbox, ResourceKinds.Deployments, Ns, ClusterManifests.LoadGeneratorName)!;
        Assert.Equal(ClusterManifests.LoadGeneratorImage, (string?)Container(load)["image"]);
        var env = Container(load)["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string)e!["value"]!);
        Assert.Equal("checkout payments catalog", env["TARGETS"]);
        Assert.Equal("0.1", env["PAUSE"]); // at most 10 requests a second per service
        var until = DateTimeOffset.FromUnixTimeSeconds(long.Parse(env["UNTIL"]));
        Assert.InRange(until, before + options.Timeout - TimeSpan.FromSeconds(1), DateTimeOffset.UtcNow + options.Timeout);
        Assert.Contains("holdApplicationUntilProxyStarts", (string?)load["spec"]!["template"]!["metadata"]!["annotations"]!["proxy.istio.io/config"]);
    }

    [Theory]
    [InlineData("canaries", "kubectl apply -f manifests/crd/canary.yaml")]
    [InlineData("virtualservices", "install Istio first")]
    [InlineData("destinationrules", "install Istio first")]
    public async Task A_missing_crd_is_a_clear_error_that_says_what_to_install_before_anything_is_created(string missing, string advice)
    {
        await using var sandbox = await StartAsync(ResourceKinds.All.Where(k => k.Plural != missing).ToList());
        using var demo = new ClusterDemo(Options(sandbox, prometheus.Process));

        var error = await Assert.ThrowsAsync<ClusterDemoException>(() => demo.PreflightAsync(Bounded()));

        Assert.Contains(advice, error.Message);
        Assert.Empty(sandbox.Store.List(ResourceKinds.Namespaces, null, LabelSelector.Parse(null)).Items);
    }

    [Fact]
    public async Task An_unreachable_prometheus_is_a_clear_error_that_suggests_a_port_forward()
    {
        await using var sandbox = await StartAsync();
        using var demo = new ClusterDemo(Options(sandbox, prometheus.Process) with { PrometheusUrl = new Uri("http://127.0.0.1:9/") });

        var error = await Assert.ThrowsAsync<ClusterDemoException>(() => demo.PreflightAsync(Bounded()));

        Assert.Contains("port-forward", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not: a kubeconfig")]
    [InlineData("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n")]
    public async Task A_kubeconfig_that_cannot_be_used_is_a_clear_error(string content)
    {
        await using var sandbox = await StartAsync();
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, content);
            var error = Assert.Throws<ClusterDemoException>(() => new ClusterDemo(Options(sandbox, prometheus.Process) with { KubeconfigPath = path }));
            Assert.Contains($"Cannot use kubeconfig {path}", error.Message);
            Assert.Contains("kubectl --kubeconfig", error.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task An_object_left_by_an_earlier_run_is_a_clear_error_and_what_this_run_created_is_removed()
    {
        await using var sandbox = await StartAsync();
        sandbox.Store.Create(ResourceKinds.Namespaces, "", ClusterManifests.Namespace(Ns));
        sandbox.Store.Create(ResourceKinds.Services, Ns, ClusterManifests.AppService(Ns, Stories[1]));
        using var demo = new ClusterDemo(Options(sandbox, prometheus.Process));

        var error = await Assert.ThrowsAsync<ClusterDemoException>(() => demo.ApplyAsync(Bounded()));
        Assert.Empty(await demo.Objects.CleanupAsync(Bounded()));

        Assert.Contains($"Service {Ns}/payments already exists", error.Message);
        Assert.Equal(["payments"], Names(sandbox, ResourceKinds.Services, Ns)); // the earlier run's, untouched
        Assert.Empty(Names(sandbox, ResourceKinds.Deployments, Ns));            // this run's, removed
        Assert.NotNull(Find(sandbox, ResourceKinds.Namespaces, "", Ns));
    }

    [Theory]
    [InlineData("--kubeconfig /no/such/file --prometheus-url http://p:9090", "--kubeconfig")]
    [InlineData("--kubeconfig KUBECONFIG", "--prometheus-url is required")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url ftp://p", "--prometheus-url must be")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url http://p:9090 --namespace Demo_NS", "--namespace")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url http://p:9090 --interval-seconds 2", "--interval-seconds")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url http://p:9090 --timeout soon", "--timeout")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url http://p:9090 --bus kafka", "--bus")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url http://p:9090 --kepp", "unknown option '--kepp'")]
    [InlineData("--kubeconfig KUBECONFIG --prometheus-url", "--prometheus-url needs a value")]
    public void Bad_options_are_usage_errors_that_name_the_option(string line, string expected)
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            var args = line.Replace("KUBECONFIG", kubeconfig).Split(' ');
            var error = Assert.Throws<DemoUsageException>(() => ClusterDemoOptions.FromArgs(DemoArgs.Parse(args)));
            Assert.Contains(expected, error.Message);
        }
        finally { File.Delete(kubeconfig); }
    }

    [Fact]
    public void Good_options_keep_their_values_and_the_defaults_fill_the_rest()
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            var o = ClusterDemoOptions.FromArgs(DemoArgs.Parse(
                ["--kubeconfig", kubeconfig, "--prometheus-url=http://127.0.0.1:9090", "--context", "kind-demo", "--timeout", "45m", "--keep"]));
            Assert.Equal((kubeconfig, "kind-demo", ClusterDemoOptions.DefaultNamespace, true), (o.KubeconfigPath, o.Context, o.Namespace, o.Keep));
            Assert.Equal((TimeSpan.FromMinutes(45), TimeSpan.FromSeconds(30), 10), (o.Timeout, o.Interval, o.RequestsPerSecond));
            Assert.Equal(20, o.Tuning.MinRequests); // a third of what the first step (20%) gets in one interval
        }
        finally { File.Delete(kubeconfig); }
    }
}
