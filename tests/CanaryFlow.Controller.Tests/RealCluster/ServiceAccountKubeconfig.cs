using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// A kubeconfig for a ServiceAccount, as a pod would have it: a token the API server issues for that account
/// (TokenRequest, the same API that projects tokens into pods) and the cluster's CA, so TLS is verified. No admin
/// credentials: every call made with it is authorised by the account's RBAC alone.
/// </summary>
public static class ServiceAccountKubeconfig
{
    public static string UserName(string ns, string serviceAccount) => $"system:serviceaccount:{ns}:{serviceAccount}";

    /// <param name="admin">Asks for the token (creating tokens is an admin's business).</param>
    /// <param name="adminKubeconfig">Where the server's address and CA come from.</param>
    /// <returns>The path of the written kubeconfig.</returns>
    public static async Task<string> WriteAsync(IKubernetes admin, string adminKubeconfig, string ns, string serviceAccount, string folder)
    {
        var issued = await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 3600, Audiences = [] } }, serviceAccount, ns);
        var cluster = KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(adminKubeconfig)).Clusters.First().ClusterEndpoint;
        if (string.IsNullOrEmpty(cluster.CertificateAuthorityData)) throw new InvalidOperationException($"{adminKubeconfig} has no certificate-authority-data");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{ns}-{serviceAccount}.kubeconfig");
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: cluster
              cluster:
                server: {cluster.Server}
                certificate-authority-data: {cluster.CertificateAuthorityData}
            users:
            - name: {serviceAccount}
              user:
                token: {issued.Status.Token}
            contexts:
            - name: {serviceAccount}
              context:
                cluster: cluster
                user: {serviceAccount}
                namespace: {ns}
            current-context: {serviceAccount}
            """);
        return path;
    }

    public static IKubernetes Client(string kubeconfig) => new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
}
