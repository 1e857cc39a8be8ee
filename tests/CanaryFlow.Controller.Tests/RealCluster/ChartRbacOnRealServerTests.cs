using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// The chart's ServiceAccount and ClusterRole on the real API server's RBAC: a token issued for that account may
/// make every call the controller makes, and is no admin.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class ChartRbacOnRealServerTests : ChartInstalledTest
{
    [Fact]
    public async Task ChartServiceAccountToken_IsAllowedEveryCallTheControllerMakes_AndNothingAdmin_OnRealServer()
    {
        using var client = (k8s.Kubernetes)ServiceAccountKubeconfig.Client(Install.ControllerKubeconfig);
        var denied = new List<Permission>();
        foreach (var p in ControllerPermissions.Required)
            if (!await ControllerPermissions.AllowedAsync(client, p)) denied.Add(p);
        Assert.Empty(denied);

        // The token is the ServiceAccount's, with no more than its role: no Secrets, no RBAC, no Namespaces.
        Assert.False(await ControllerPermissions.AllowedAsync(client, new Permission("", "secrets", "get")));
        Assert.False(await ControllerPermissions.AllowedAsync(client, new Permission("rbac.authorization.k8s.io", "clusterroles", "create")));
        Assert.False(await ControllerPermissions.AllowedAsync(client, new Permission("", "namespaces", "delete")));
        var (code, whoami) = await Kubectl.RunAsync(Install.ControllerKubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}");
        Assert.True(code == 0, whoami);
        Assert.Equal(ServiceAccountKubeconfig.UserName(ChartInstall.Namespace, ChartInstall.ServiceAccount), whoami);
    }
}

/// <summary>A ClusterRole short of one verb makes the controller fail where a user sees it, not silently.</summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class MissingVerbOnRealServerTests : ChartInstalledTest
{
    [Fact]
    public async Task ClusterRoleWithoutCreateOnDeployments_ShowsForbiddenOnTheCanary_OnRealServer()
    {
        var admin = Install.Admin;
        var chartRole = await admin.RbacAuthorizationV1.ReadClusterRoleAsync(ChartInstall.ClusterRole);
        var ns = await Install.Plane.NewNamespaceAsync("rbac");
        var name = $"canaryflow-{ns}"; // cluster-scoped: named after this test's namespace, deleted at the end
        try
        {
            var rules = chartRole.Rules.Select(r => new V1PolicyRule
            {
                ApiGroups = r.ApiGroups, Resources = r.Resources,
                Verbs = r.ApiGroups.Contains("apps") && r.Resources.Contains("deployments") ? [.. r.Verbs.Where(v => v != "create")] : r.Verbs,
            }).ToList();
            Assert.NotEqual(chartRole.Rules.Sum(r => r.Verbs.Count), rules.Sum(r => r.Verbs.Count)); // one verb fewer
            await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "canaryflow" } }, ns);
            await admin.RbacAuthorizationV1.CreateClusterRoleAsync(new V1ClusterRole { Metadata = new V1ObjectMeta { Name = name }, Rules = rules });
            await admin.RbacAuthorizationV1.CreateClusterRoleBindingAsync(new V1ClusterRoleBinding
            {
                Metadata = new V1ObjectMeta { Name = name },
                RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = name },
                Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "canaryflow", NamespaceProperty = ns }],
            });
            var kubeconfig = await ServiceAccountKubeconfig.WriteAsync(admin, Install.Plane.KubeconfigPath, ns, "canaryflow", Install.WorkFolder);

            await using var rollout = await RealRollout.StartAsync(Install.Plane, kubeconfig, "rbac-run");
            // Where the user looks: the Canary's Ready condition and an Event (kubectl describe canary), and the log.
            var ready = await rollout.WaitConditionAsync("Ready", "Forbidden");
            Assert.Equal("False", (string?)ready["status"]);
            Assert.Contains("cannot create resource \"deployments\"", (string?)ready["message"]);
            var ev = await rollout.WaitAsync("a Forbidden Event on the Canary", async () =>
                (await admin.CoreV1.ListNamespacedEventAsync(rollout.Namespace, fieldSelector: $"involvedObject.name={RealRollout.Service},reason=Forbidden")).Items.FirstOrDefault());
            Assert.Equal("Warning", ev.Type);
            Assert.Contains("deployments", ev.Message);
            Assert.Contains("Forbidden", rollout.ControllerLog);
            Assert.DoesNotContain((await admin.AppsV1.ListNamespacedDeploymentAsync(rollout.Namespace)).Items, d => d.Metadata.Name == $"{RealRollout.Service}-primary");
        }
        finally
        {
            await Ignore404(() => admin.RbacAuthorizationV1.DeleteClusterRoleBindingAsync(name));
            await Ignore404(() => admin.RbacAuthorizationV1.DeleteClusterRoleAsync(name));
            await Install.Plane.DeleteNamespaceAsync(ns);
        }
    }

    private static async Task Ignore404(Func<Task> delete)
    {
        try { await delete(); }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
    }
}
