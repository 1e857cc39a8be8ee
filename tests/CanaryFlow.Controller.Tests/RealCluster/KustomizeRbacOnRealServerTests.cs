using CanaryFlow.Controller.Hosting.Sharding;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Controller.Tests.Kubernetes.Servers;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.RealCluster;

/// <summary>
/// The kustomize RBAC (manifests/rbac) for a sharded install, on the real API server's RBAC: the partition Leases are
/// taken under a token issued for its ServiceAccount. Only its namespaced objects are applied (ServiceAccount, Roles,
/// RoleBindings): its ClusterRole shares the chart's name, which other tests of this run install.
/// </summary>
[Trait("Category", RealControlPlane.Category)]
public sealed class KustomizeRbacOnRealServerTests
{
    private const string Namespace = "canaryflow-system";

    [Fact]
    public async Task Kustomize_cluster_role_allows_every_call_the_controller_makes_under_its_service_accounts_token_on_the_real_server()
    {
        var plane = await RealControlPlane.GetAsync();
        var admin = plane.Admin;
        await plane.KubectlAsync("create", "namespace", Namespace); // exists already on a reused server: fine
        var (code, rendered) = await plane.KubectlAsync("kustomize", Path.Combine(RepositoryRoot.Path, "manifests", "rbac"));
        Assert.True(code == 0, rendered);
        var documents = k8s.KubernetesYaml.LoadAllFromString(rendered);
        var role = Assert.Single(documents.OfType<k8s.Models.V1ClusterRole>());
        await plane.KubectlAsync("-n", Namespace, "create", "serviceaccount", "canaryflow"); // or exists: the other test applies it
        // Under a name of its own: the chart's ClusterRole and binding, installed by other tests of this run, share its name.
        var name = $"canaryflow-kustomize-{Guid.NewGuid():N}"[..40];
        try
        {
            await admin.RbacAuthorizationV1.CreateClusterRoleAsync(new k8s.Models.V1ClusterRole { Metadata = new k8s.Models.V1ObjectMeta { Name = name }, Rules = role.Rules });
            await admin.RbacAuthorizationV1.CreateClusterRoleBindingAsync(new k8s.Models.V1ClusterRoleBinding
            {
                Metadata = new k8s.Models.V1ObjectMeta { Name = name },
                RoleRef = new k8s.Models.V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = name },
                Subjects = [new k8s.Models.Rbacv1Subject { Kind = "ServiceAccount", Name = "canaryflow", NamespaceProperty = Namespace }],
            });
            var folder = Directory.CreateTempSubdirectory("canaryflow-kustomize-role-").FullName;
            var kubeconfig = await ServiceAccountKubeconfig.WriteAsync(admin, plane.KubeconfigPath, Namespace, "canaryflow", folder);
            using var client = ServiceAccountKubeconfig.Client(kubeconfig);
            var denied = new List<string>();
            // Leases are not the ClusterRole's: a Role in the controller's namespace grants them (the test below proves it).
            foreach (var p in ControllerPermissions.Required.Where(p => p.Group != "coordination.k8s.io"))
                if (!await ControllerPermissions.AllowedAsync(client, p)) denied.Add(p.ToString());
            Assert.Empty(denied);
            Assert.False(await ControllerPermissions.AllowedAsync(client, new Permission("", "secrets", "get"))); // least privilege still
        }
        finally
        {
            await admin.RbacAuthorizationV1.DeleteClusterRoleBindingAsync(name);
            await admin.RbacAuthorizationV1.DeleteClusterRoleAsync(name);
        }
    }

    [Fact]
    public async Task Kustomize_rbac_lets_a_sharded_replica_take_its_partition_leases_on_the_real_server()
    {
        var plane = await RealControlPlane.GetAsync();
        await plane.KubectlAsync("create", "namespace", Namespace); // exists already on a reused server: fine
        var (code, rendered) = await plane.KubectlAsync("kustomize", Path.Combine(RepositoryRoot.Path, "manifests", "rbac"));
        Assert.True(code == 0, rendered);
        var namespaced = rendered.Split("\n---\n").Where(d => System.Text.RegularExpressions.Regex.IsMatch(d, "^kind: (ServiceAccount|Role|RoleBinding)$",
            System.Text.RegularExpressions.RegexOptions.Multiline)).ToList();
        Assert.Equal(5, namespaced.Count); // the ServiceAccount, the leader's and the partitions' Roles and RoleBindings: nothing cluster-wide

        var folder = Directory.CreateTempSubdirectory("canaryflow-kustomize-rbac-").FullName;
        var file = Path.Combine(folder, "rbac-namespaced.yaml");
        await File.WriteAllTextAsync(file, string.Join("\n---\n", namespaced));
        (code, var applied) = await plane.KubectlAsync("apply", "-f", file);
        Assert.True(code == 0, applied);
        var kubeconfig = await ServiceAccountKubeconfig.WriteAsync(plane.Admin, plane.KubeconfigPath, Namespace, "canaryflow", folder);

        const int partitions = 4;
        var set = $"canaryflow-kustomize-{Guid.NewGuid():N}"[..32];
        var options = new KubernetesOptions { LeaseName = set, LeaseNamespace = Namespace, Identity = "replica-a", RetryPeriod = TimeSpan.FromMilliseconds(500) };
        var ready = new EngineReady();
        ready.Set();
        using var client = ServiceAccountKubeconfig.Client(kubeconfig);
        var leases = new PartitionLeases(client, Options.Create(options), Options.Create(new ShardingOptions { Partitions = partitions }), new WriteFence(open: false),
            TimeProvider.System, NullLogger<PartitionLeases>.Instance, ready);
        await leases.StartAsync(CancellationToken.None);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Enumerable.Range(0, partitions).All(leases.Owns) && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.All(Enumerable.Range(0, partitions), p => Assert.True(leases.Owns(p), $"partition {p} not held under the kustomize RBAC"));
            var written = await plane.Admin.CoordinationV1.ListNamespacedLeaseAsync(Namespace, labelSelector: $"{PartitionLeases.SetLabel}={set}");
            Assert.Equal(partitions, written.Items.Count(l => l.Spec.HolderIdentity == "replica-a"));
        }
        finally
        {
            ready.SetStopped(); // no engine here: the Leases are handed back at once
            await leases.StopAsync(CancellationToken.None);
        }
    }
}
