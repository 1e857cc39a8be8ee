namespace CanaryFlow.Analysis.Prometheus;

/// <summary>Where Prometheus is and how to talk to it. Bound from the "Prometheus" configuration section.</summary>
public sealed class PrometheusOptions
{
    public const string SectionName = "Prometheus";

    /// <summary>Base address, e.g. http://prometheus.istio-system:9090 (a path prefix such as Thanos' /prometheus is kept).</summary>
    public string Address { get; set; } = "";

    /// <summary>Sent as <c>Authorization: Bearer</c>. Exclusive with basic auth.</summary>
    public string? BearerToken { get; set; }

    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>Extra request headers, e.g. X-Scope-OrgID for Mimir/Cortex/Thanos tenants.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>One HTTP attempt; also sent to Prometheus as the query's own timeout.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The whole query including retries.</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt (bounded, exponential backoff with jitter).</summary>
    public int MaxRetries { get; set; } = 2;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The circuit opens when this share of calls fails in the sampling window...</summary>
    public double CircuitFailureRatio { get; set; } = 0.5;

    /// <summary>...and at least this many calls were made...</summary>
    public int CircuitMinimumThroughput { get; set; } = 5;

    public TimeSpan CircuitSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// ...and then stays open (queries fail fast) this long, after which one half-open probe decides. At most
    /// one sequential tick (5 s by default), so the breaker never outlasts an outage by more than a tick.
    /// </summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Concurrent checks in the same namespace whose evaluation times fall in the same window of
    /// this length share one query per metric (see <c>WorkloadQueryBatcher</c>). It is also the
    /// oldest a shared answer can be when a check uses it, so it bounds how late a breach is acted
    /// on: short enough that the checks of one ticker pass share a query, and no longer.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Resolution of the range queries that feed the statistical comparison.</summary>
    public TimeSpan ComparisonStep { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Rate window of each comparison sample; at least a few scrape intervals.</summary>
    public TimeSpan ComparisonRateWindow { get; set; } = TimeSpan.FromMinutes(1);
}
