using CanaryFlow.Controller.Kubernetes.Api;
using k8s;
using k8s.Exceptions;

namespace CanaryFlow.Controller.Tests.Kubernetes;

/// <summary>The controller's kubeconfig reader gives the client the configuration the client's own reader gives, without
/// the client's YAML tables for every Kubernetes type.</summary>
public sealed class KubeconfigFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("canaryflow-kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private const string TwoContexts = """
        apiVersion: v1
        kind: Config
        preferences: {}
        clusters:
        - name: alpha
          cluster:
            server: https://127.0.0.1:16443
            insecure-skip-tls-verify: true
            tls-server-name: kubernetes.default
        - name: beta
          cluster:
            server: http://127.0.0.1:8080
            extensions:
            - name: cluster_info
              extension:
                provider: minikube.sigs.k8s.io
                version: v1.32.0
        users:
        - name: robot
          user:
            token: s3cret
        - name: person
          user:
            client-certificate: certs/person.crt
            client-key: certs/person.key
        - name: plugin
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: PLUGIN
              env:
              - name: AWS_PROFILE
                value: dev
              interactiveMode: Never
        contexts:
        - name: alpha-robot
          context:
            cluster: alpha
            user: robot
            namespace: shop
        - name: beta-person
          context:
            cluster: beta
            user: person
        - name: alpha-plugin
          context:
            cluster: alpha
            user: plugin
        current-context: alpha-robot
        extensions:
        - name: tool
          extension:
            last-update: "2026-12-04"
        """;

    [Theory]
    [InlineData(null)]
    [InlineData("beta-person")]
    [InlineData("alpha-plugin")]
    public void A_kubeconfig_is_read_as_the_clients_own_reader_reads_it(string? context)
    {
        var path = Write(TwoContexts);

        var ours = KubeconfigFile.Load(path, context);
        var theirs = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, context);

        Assert.Equal(Described(theirs), Described(ours));
    }

    [Fact]
    public void Files_named_relative_to_the_kubeconfig_are_found_beside_it_an_exec_plugin_runs_and_the_current_context_is_the_default()
    {
        var path = Write(TwoContexts);

        var robot = KubeconfigFile.Load(path, null);
        var person = KubeconfigFile.Load(path, "beta-person");

        Assert.Equal(("https://127.0.0.1:16443/", "s3cret", "shop", true), (robot.Host.TrimEnd('/') + "/", robot.AccessToken, robot.Namespace, robot.SkipTlsVerify));
        Assert.Equal(Path.Combine(_folder, "certs", "person.crt"), person.ClientCertificateFilePath);
        Assert.Equal(Path.Combine(_folder, "certs", "person.key"), person.ClientKeyFilePath);
        Assert.Equal("tok-dev", KubeconfigFile.Load(path, "alpha-plugin").AccessToken); // the plugin ran, with its env
    }

    [Theory]
    [InlineData("")]
    [InlineData("not: a kubeconfig")]
    public void An_empty_or_foreign_file_is_refused_saying_so(string content)
    {
        var error = Assert.Throws<KubeConfigException>(() => KubeconfigFile.Load(Write(content), null));
        Assert.Contains("empty or not a kubeconfig", error.Message);
    }

    [Fact]
    public void A_context_the_file_lacks_is_refused_by_name()
    {
        var error = Assert.ThrowsAny<Exception>(() => KubeconfigFile.Load(Write(TwoContexts), "gamma"));
        Assert.Contains("gamma", error.Message);
    }

    private string Write(string content)
    {
        var path = Path.Combine(_folder, $"kubeconfig-{Guid.NewGuid():N}");
        File.WriteAllText(path, content.Replace("PLUGIN", Plugin()));
        return path;
    }

    /// <summary>An exec credential plugin that answers a token naming its AWS_PROFILE.</summary>
    private string Plugin()
    {
        var path = Path.Combine(_folder, "plugin.sh");
        File.WriteAllText(path, "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-'\"$AWS_PROFILE\"'\"}}'\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static string Described(KubernetesClientConfiguration c) => string.Join("\n",
        c.Host, c.CurrentContext, c.Namespace, c.AccessToken, c.Username, c.SkipTlsVerify, c.TlsServerName,
        c.ClientCertificateFilePath, c.ClientKeyFilePath, c.ClientCertificateData, c.ClientCertificateKeyData,
        c.SslCaCerts?.Count, c.TokenProvider is null);
}
