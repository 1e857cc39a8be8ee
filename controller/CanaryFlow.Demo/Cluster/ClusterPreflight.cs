using System.Net;
using CanaryFlow.Analysis.Prometheus;
using CanaryFlow.Controller.Kubernetes.Model;
using CanaryFlow.Controller.Kubernetes.Routing;
using k8s;
using k8s.Autorest;

namespace CanaryFlow.Demo.Cluster;

/// <summary>A problem the user can fix, said in one message that tells how; the demo prints it and exits 1.</summary>
public sealed class ClusterDemoException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Before anything is created: the Canary CRD and Istio's CRDs are served, the kubeconfig's user may list them,
/// and Prometheus answers. A missing resource type is a 404 on its collection (listing a namespace that does not
/// exist yet is an empty list), as on any API server.
/// </summary>
public static class ClusterPreflight
{
    public const string MissingCanaryCrd =
        "The Canary CRD (canaries.canaryflow.dev) is not installed in this cluster: kubectl apply -f manifests/crd/canary.yaml";
    public const string MissingIstio =
        "Istio's CRDs (virtualservices and destinationrules.networking.istio.io, v1beta1) are not installed in this cluster: " +
        "install Istio first (e.g. istioctl install --set profile=demo -y), with Prometheus scraping its metrics.";

    public static async Task CheckAsync(IKubernetes client, string ns, IPrometheusClient prometheus, Uri prometheusUrl, CancellationToken ct)
    {
        await ListAsync(client, CanaryResource.Group, CanaryResource.Version, ns, CanaryResource.Plural, MissingCanaryCrd, ct);
        await ListAsync(client, Istio.Group, Istio.Version, ns, Istio.VirtualServices, MissingIstio, ct);
        await ListAsync(client, Istio.Group, Istio.Version, ns, Istio.DestinationRules, MissingIstio, ct);
        try { await prometheus.QueryAsync("vector(1)", null, ct); }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw new ClusterDemoException($"Prometheus at {prometheusUrl} does not answer ({e.Message}). Give a URL reachable from here, e.g. " +
                                           "`kubectl -n istio-system port-forward svc/prometheus 9090` and --prometheus-url http://127.0.0.1:9090", e);
        }
    }

    private static async Task ListAsync(IKubernetes client, string group, string version, string ns, string plural, string missing, CancellationToken ct)
    {
        try { await client.CustomObjects.ListNamespacedCustomObjectAsync(group, version, ns, plural, limit: 1, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { throw new ClusterDemoException(missing, e); }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            throw new ClusterDemoException($"The kubeconfig's user may not list {plural}.{group} in namespace {ns} " +
                                           $"(HTTP {(int)e.Response.StatusCode}): the demo needs to create namespaces, Deployments, Services, " +
                                           "Canaries and Istio routing there.", e);
        }
        catch (Exception e) when (e is not (HttpOperationException or OperationCanceledException)) // unreachable, timed out, circuit open
        {
            throw new ClusterDemoException($"The Kubernetes API does not answer ({e.Message}): check the kubeconfig and --context.", e);
        }
    }
}
