namespace CanaryFlow.Analysis.Prometheus;

/// <summary>The two Prometheus HTTP API calls analysis needs, each behind the resilience pipeline.</summary>
public interface IPrometheusClient
{
    /// <summary>GET/POST /api/v1/query evaluated at <paramref name="time"/> (server time when null).</summary>
    Task<PromQueryResult> QueryAsync(string promql, DateTimeOffset? time, CancellationToken cancellationToken);

    /// <summary>/api/v1/query_range from <paramref name="start"/> to <paramref name="end"/> every <paramref name="step"/>.</summary>
    Task<PromQueryResult> QueryRangeAsync(string promql, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken);

    /// <summary>An instant query whose vector goes sample by sample into a sink (a fresh one per attempt) instead of
    /// into objects: for large namespace-wide answers. This default reads it through <see cref="QueryAsync"/>.</summary>
    async Task<T> QueryVectorAsync<T>(string promql, DateTimeOffset? time, Func<IVectorSink<T>> newSink, CancellationToken cancellationToken) =>
        PrometheusVectorReader.Feed((await QueryAsync(promql, time, cancellationToken)).Vector, newSink());
}
