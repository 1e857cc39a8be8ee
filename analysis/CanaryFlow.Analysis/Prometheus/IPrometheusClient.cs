namespace CanaryFlow.Analysis.Prometheus;

/// <summary>The two Prometheus HTTP API calls analysis needs, each behind the resilience pipeline.</summary>
public interface IPrometheusClient
{
    /// <summary>GET/POST /api/v1/query evaluated at <paramref name="time"/> (server time when null).</summary>
    Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken);

    /// <summary>/api/v1/query_range from <paramref name="start"/> to <paramref name="end"/> every <paramref name="step"/>.</summary>
    Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken);
}
