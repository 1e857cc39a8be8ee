using System.Text.Json.Nodes;
using CanaryFlow.Contracts;

namespace CanaryFlow.Demo.Stories;

/// <summary>How fast a mode's Canaries move: the embedded demo runs in a minute on its own mesh; a real
/// cluster needs longer intervals (Istio's metrics reach Prometheus every 15 s or so) and time to pull images.</summary>
public sealed record CanaryTuning(TimeSpan Interval, int StepWeight, int MinRequests, int ProgressDeadlineSeconds);

/// <summary>One of the demo's three releases, the same in every mode: the service it happens to, what its new
/// version does, and how it must end. Each mode says how it makes a release faulty.</summary>
public sealed record DemoStory(string Name, string ExpectedPhase, bool ApprovalGate, bool Faulty)
{
    public static IReadOnlyList<DemoStory> All { get; } =
    [
        new("checkout", RolloutPhases.Succeeded, ApprovalGate: false, Faulty: false),
        new("payments", RolloutPhases.Failed, ApprovalGate: false, Faulty: true),
        new("catalog", RolloutPhases.Succeeded, ApprovalGate: true, Faulty: false),
    ];

    public RolloutTarget TargetIn(string ns) => new(ns, Name);

    /// <param name="fault">What the faulty version does, e.g. "25% errors".</param>
    public string Describe(CanaryTuning tuning, string fault) => (Faulty, ApprovalGate) switch
    {
        (true, _) => $"a faulty release ({fault}): analysis fails, rollback",
        (_, true) => "a manual gate: waits for approval, a promote message finishes it",
        _ => $"a healthy release: {tuning.StepWeight}% → 100%, then promotion",
    };

    /// <summary>The Canary for this story: success rate of at least 95% and a P99 under 500 ms, judged on Istio's
    /// standard metrics per interval (fixed windows, so the stories show Flagger-style checks; the load story shows the
    /// default sequential mode); the gated story waits for approval before promotion.</summary>
    public JsonObject CanaryManifest(string ns, int port, CanaryTuning tuning) => JsonNode.Parse($$"""
        {
          "apiVersion": "canaryflow.dev/v1alpha1", "kind": "Canary",
          "metadata": { "name": "{{Name}}", "namespace": "{{ns}}" },
          "spec": {
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "{{Name}}" },
            "service": { "port": {{port}} },
            "analysis": {
              "interval": "{{(int)tuning.Interval.TotalSeconds}}s", "mode": "fixed-window",
              "stepWeight": {{tuning.StepWeight}}, "maxWeight": 100,
              "failureLimit": 2, "minRequests": {{tuning.MinRequests}}, "progressDeadlineSeconds": {{tuning.ProgressDeadlineSeconds}},
              "metrics": [
                { "name": "request-success-rate", "thresholdRange": { "min": 95 } },
                { "name": "request-duration", "thresholdRange": { "max": 500 } }
              ],
              "approval": { "beforePromotion": {{(ApprovalGate ? "true" : "false")}} }
            }
          }
        }
        """)!.AsObject();
}
