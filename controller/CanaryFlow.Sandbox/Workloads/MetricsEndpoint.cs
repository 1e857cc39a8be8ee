using Microsoft.AspNetCore.Http;
using Prometheus;

namespace CanaryFlow.Sandbox.Workloads;

/// <summary>Serves a prometheus-net registry in the text exposition format.</summary>
public static class MetricsEndpoint
{
    public static async Task ExportAsync(CollectorRegistry registry, HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
    }
}
