using System.Net;
using System.Text.Json;
using CanaryFlow.Controller.Kubernetes.Api;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace CanaryFlow.Controller.Kubernetes.Routing;

/// <summary>
/// Creates a Service with a given selector, or brings an existing one's selector to it. The user's own Service keeps
/// the selector it had in an annotation, and gets it back when its Canary is deleted (<see cref="RestoreAsync"/>).
/// Writes are replaces of the object read, so a concurrent change answers 409 and is read again.
/// </summary>
public sealed class ServiceSelectors(CanaryApi api)
{
    public const string OriginalSelectorAnnotation = "canaryflow.dev/original-selector";
    private const int MaxAttempts = 5;

    /// <param name="original">For a Service CanaryFlow creates: the selector to give it on deletion of the Canary.</param>
    /// <param name="ownedOnly">Change only a Service CanaryFlow created (the Gateway API side Services).</param>
    public async Task EnsureAsync(CanaryContext ctx, string name, Dictionary<string, string> selector, CancellationToken ct,
        IDictionary<string, string>? original = null, bool ownedOnly = false)
    {
        var ns = ctx.Target.Namespace;
        for (var attempt = 1; ; attempt++)
        {
            var service = await TryReadAsync(ns, name, ct);
            try
            {
                if (service is null) { await CreateAsync(ctx, name, selector, original, ct); return; }
                if (ownedOnly && !IsManaged(service)) return;
                if (service.Spec.Selector is { } current && current.Count == selector.Count && !current.Except(selector).Any()) return;
                service.Metadata.Annotations ??= new Dictionary<string, string>();
                if (!service.Metadata.Annotations.ContainsKey(OriginalSelectorAnnotation) && !ownedOnly)
                    service.Metadata.Annotations[OriginalSelectorAnnotation] = JsonSerializer.Serialize(service.Spec.Selector ?? new Dictionary<string, string>());
                service.Spec.Selector = selector;
                await api.Client.CoreV1.ReplaceNamespacedServiceAsync(service, name, ns, cancellationToken: ct);
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    /// <summary>Gives the Service the selector it had before CanaryFlow (from the annotation). Null when nothing changed.</summary>
    public async Task<string?> RestoreAsync(CanaryContext ctx, string name, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var service = await TryReadAsync(ctx.Target.Namespace, name, ct);
            if (service?.Metadata.Annotations is not { } annotations || !annotations.TryGetValue(OriginalSelectorAnnotation, out var json)) return null;
            service.Spec.Selector = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
            annotations.Remove(OriginalSelectorAnnotation);
            try
            {
                await api.Client.CoreV1.ReplaceNamespacedServiceAsync(service, name, ctx.Target.Namespace, cancellationToken: ct);
                return $"Service {name} selects {string.Join(",", service.Spec.Selector.Select(s => $"{s.Key}={s.Value}"))} again";
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts) { }
        }
    }

    private async Task CreateAsync(CanaryContext ctx, string name, Dictionary<string, string> selector, IDictionary<string, string>? original, CancellationToken ct)
    {
        var service = new V1Service
        {
            Metadata = new V1ObjectMeta
            {
                Name = name, NamespaceProperty = ctx.Target.Namespace,
                Labels = new Dictionary<string, string> { [Istio.ManagedByLabel] = Istio.ManagedBy },
                Annotations = original is null ? null : new Dictionary<string, string> { [OriginalSelectorAnnotation] = JsonSerializer.Serialize(original) },
            },
            Spec = new V1ServiceSpec
            {
                Selector = selector,
                Ports = [new V1ServicePort { Name = "http", Port = ctx.ServicePort, TargetPort = ctx.ServicePort }],
            },
        };
        try { await api.Client.CoreV1.CreateNamespacedServiceAsync(service, ctx.Target.Namespace, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict) { }
    }

    private static bool IsManaged(V1Service s) => s.Metadata.Labels is { } l && l.TryGetValue(Istio.ManagedByLabel, out var by) && by == Istio.ManagedBy;

    private async Task<V1Service?> TryReadAsync(string ns, string name, CancellationToken ct)
    {
        try { return await api.Client.CoreV1.ReadNamespacedServiceAsync(name, ns, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound) { return null; }
    }
}
