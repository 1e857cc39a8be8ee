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
        users:
        - name: robot
          user:
            token: s3cret
        - name: person
          user:
            client-certificate: certs/person.crt
            client-key: certs/person.key
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
        current-context: alpha-robot
        """;

    [Theory]
    [InlineData(null)]
    [InlineData("beta-person")]
    public void A_kubeconfig_is_read_as_the_clients_own_reader_reads_it(string? context)
    {
        var path = Write(TwoContexts);

        var ours = KubeconfigFile.Load(path, context);
        var theirs = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, context);

        Assert.Equal(Described(theirs), Described(ours));
    }

    [Fact]
    public void Files_named_relative_to_the_kubeconfig_are_found_beside_it_and_the_current_context_is_used_by_default()
    {
        var path = Write(TwoContexts);

        var robot = KubeconfigFile.Load(path, null);
        var person = KubeconfigFile.Load(path, "beta-person");

        Assert.Equal(("https://127.0.0.1:16443/", "s3cret", "shop", true), (robot.Host.TrimEnd('/') + "/", robot.AccessToken, robot.Namespace, robot.SkipTlsVerify));
        Assert.Equal(Path.Combine(_folder, "certs", "person.crt"), person.ClientCertificateFilePath);
        Assert.Equal(Path.Combine(_folder, "certs", "person.key"), person.ClientKeyFilePath);
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
        File.WriteAllText(path, content);
        return path;
    }

    private static string Described(KubernetesClientConfiguration c) => string.Join("\n",
        c.Host, c.CurrentContext, c.Namespace, c.AccessToken, c.Username, c.SkipTlsVerify, c.TlsServerName,
        c.ClientCertificateFilePath, c.ClientKeyFilePath, c.ClientCertificateData, c.ClientCertificateKeyData,
        c.SslCaCerts?.Count, c.TokenProvider is null);
}
