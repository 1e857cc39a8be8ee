namespace CanaryFlow.Contracts;

/// <summary>
/// Everything the rollout engine needs to run one rollout, resolved from the Canary spec when the
/// rollout is requested. Carried in the request so that the saga never reads the cluster.
/// </summary>
/// <param name="Steps">Canary weights in order, each 1..100, strictly increasing (e.g. 10, 20, ..., 100).</param>
/// <param name="AnalysisInterval">Time between analysis checks at a step.</param>
/// <param name="FailureLimit">Failed checks (in total, for this rollout) that trigger a rollback.</param>
/// <param name="InconclusiveLimit">Consecutive inconclusive checks (no data) that trigger a rollback; 0 = never.</param>
/// <param name="ErrorLimit">Consecutive query errors that trigger a rollback; 0 = never.</param>
/// <param name="ProgressDeadline">A rollout that makes no progress for this long fails (paused and gated time excluded).</param>
/// <param name="ApprovalAtWeights">Weights at which the rollout waits for a promote message before going on.</param>
/// <param name="ApprovalBeforePromotion">Wait for a promote message after the last step, before promotion.</param>
/// <param name="Analysis">What to measure at each check.</param>
/// <param name="Strategy">How the traffic moves, for people (status page, CLI, notifications): e.g. "Canary (Istio)",
/// "A/B testing (Istio): 10 iterations on matched requests". The steps carry the mechanics: A/B is N steps at 100% of the
/// matched requests, then promotion.</param>
/// <param name="MirrorSteps">Mirroring: the first this many steps are at canary weight 0 while the canary gets a mirrored copy
/// of stable's traffic (its responses are dropped) and is analysed on it; blue/green is those steps, then one step at 100.</param>
/// <param name="Hooks">HTTP hooks and built-in hooks, in spec order (see <see cref="HookTypes"/>).</param>
public sealed record RolloutPlan(
    IReadOnlyList<int> Steps,
    TimeSpan AnalysisInterval,
    int FailureLimit,
    int InconclusiveLimit,
    int ErrorLimit,
    TimeSpan ProgressDeadline,
    IReadOnlyList<int> ApprovalAtWeights,
    bool ApprovalBeforePromotion,
    AnalysisSpec Analysis,
    string Strategy = "Canary",
    int MirrorSteps = 0,
    IReadOnlyList<HookSpec>? Hooks = null)
{
    /// <summary>The hooks of one type, in spec order.</summary>
    public IReadOnlyList<HookSpec> HooksOf(string type) => Hooks?.Where(h => h.Type == type).ToList() ?? [];

    public bool Has(string type) => Hooks?.Any(h => h.Type == type) ?? false;
}

/// <summary>The metrics judged at each check.</summary>
/// <param name="MinRequests">Fewer canary requests than this in the interval makes a check inconclusive.</param>
/// <param name="Metrics">Built-in or custom metrics with their bounds.</param>
/// <param name="Comparison">Optional statistical comparison of canary against stable (or baseline).</param>
/// <param name="Sequential">Sequential mode (anytime-valid tests on counters read every tick); null = fixed-window checks.</param>
public sealed record AnalysisSpec(
    int MinRequests,
    IReadOnlyList<MetricSpec> Metrics,
    ComparisonSpec? Comparison = null,
    SequentialSpec? Sequential = null);

/// <summary>
/// Sequential analysis (docs/sequential-analysis.md): 5xx and latency-bucket counts of canary and stable read
/// every <paramref name="Tick"/>; a test that rejects "canary no worse than stable" rolls back at once; a step
/// passes after its interval with the minimum evidence in. A metrics outage holds the rollout and rolls it
/// back only after <paramref name="MetricsOutageDeadline"/>.
/// </summary>
/// <param name="Alpha">Probability of rolling back a canary no worse than stable, over the whole rollout (e.g. 0.05).</param>
/// <param name="Tolerance">The regression that does not matter: canary rate up to (1 + tolerance) × stable's (e.g. 0.1).</param>
/// <param name="FirstLook">An early check this long after each weight change (then the tick grid), and the rollout's first
/// check at once for the baseline; null: every tick from one tick after the change (see SequentialSchedule).</param>
/// <param name="HoldAt">A step whose interval is over is held (not passed) while a test's e-value is at least this: strong
/// but not decisive evidence against the canary (it rejects at 2/α). 0 or null: never held (a plan written before it existed).</param>
/// <param name="MaxHold">The longest a step is held past its interval; null: one interval.</param>
/// <param name="LatencyFloor">No latency bound of the tail test below this: a regression that lives entirely under it is not
/// one a user feels (scheduling noise on a sub-millisecond service is not a regression). Zero: no floor; null (a plan written
/// before it existed): <see cref="DefaultLatencyFloor"/>.</param>
public sealed record SequentialSpec(double Alpha, double Tolerance, TimeSpan Tick, TimeSpan MetricsOutageDeadline, TimeSpan? FirstLook = null,
    double? HoldAt = null, TimeSpan? MaxHold = null, TimeSpan? LatencyFloor = null)
{
    public const double DefaultAlpha = 0.05;
    public const double DefaultTolerance = 0.1;
    public static readonly TimeSpan DefaultTick = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultFirstLook = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan DefaultMetricsOutageDeadline = TimeSpan.FromMinutes(10);
    /// <summary>Held at e ≥ 3 (rejects at 2/α = 40): on the benchmark's streams (seed 1) it catches the tail-only regression
    /// (p99 +400 ms) at the first step in 95.5% of the runs at 20 requests/s (90.5% at e ≥ 5, 69.5% without a hold) and 100% at
    /// 50, for ~2.5 s more per healthy rollout on average; false rollbacks do not change, since holding never rejects
    /// (docs/sequential-analysis.md, "Holding a step").</summary>
    public const double DefaultHoldAt = 3;
    /// <summary>5 ms, a bound of Istio's default buckets: below it a few slow requests are the node's scheduling, not the
    /// release (a real-server test once rolled back a healthy 0.05 ms canary on 4 requests slower than 0.5 ms).</summary>
    public static readonly TimeSpan DefaultLatencyFloor = TimeSpan.FromMilliseconds(5);
}

/// <summary>
/// One metric. <paramref name="Name"/> "request-success-rate" and "request-duration" are built in
/// (Istio metrics); any other name needs a PromQL <paramref name="Query"/> template whose variables
/// are {{namespace}}, {{target}}, {{canary}}, {{stable}} and {{interval}}.
/// </summary>
/// <param name="Source">Another Prometheus to ask (from a MetricTemplate's address); null = the controller's own.</param>
public sealed record MetricSpec(string Name, string? Query = null, double? Min = null, double? Max = null, PrometheusSource? Source = null);

/// <summary>A Prometheus other than the controller's: its address, and where its bearer token is kept
/// (a Kubernetes Secret, read by the controller; never the token itself, which must not travel on the bus).</summary>
public sealed record PrometheusSource(string Address, string? SecretNamespace = null, string? SecretName = null, string? SecretKey = null);

/// <summary>Mann-Whitney comparison (Kayenta-style) of the canary's samples with the stable version's.</summary>
/// <param name="Confidence">e.g. 0.95.</param>
/// <param name="AllowedRelativeChange">e.g. 0.1: differences within 10% are not High/Low.</param>
/// <param name="PassScore">Share of metrics (0..1) that must pass for the check to pass.</param>
/// <param name="MarginalScore">Below this the check fails; between marginal and pass it is inconclusive.</param>
/// <param name="UseBaseline">Compare with a fresh baseline Deployment of the stable version instead of the stable pods.</param>
public sealed record ComparisonSpec(
    double Confidence = 0.95,
    double AllowedRelativeChange = 0.1,
    double PassScore = 0.95,
    double MarginalScore = 0.75,
    bool UseBaseline = false);
