using System.Text.Json;

namespace CanaryFlow.Analysis.Sequential;

/// <summary>
/// The running evidence as the text the rollout keeps durably (the saga stores it with its state, the
/// Canary status in a cluster). Any earlier saved state plus the counters read now continue the same
/// test: the missed ticks fold into one increment, so saving less often than every tick loses nothing.
/// </summary>
public static class SequentialState
{
    public static string Serialize(SequentialEvidence evidence) => JsonSerializer.Serialize(evidence);

    /// <summary>The saved evidence; null for none or for text that is not evidence (the test then starts afresh).</summary>
    public static SequentialEvidence? Deserialize(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try { return JsonSerializer.Deserialize<SequentialEvidence>(json); }
        catch (JsonException) { return null; }
    }

    /// <summary>A new step: the minimum evidence counts again; the tests keep what they have.</summary>
    public static string? StartStep(string? json) =>
        Deserialize(json) is { } evidence ? Serialize(evidence.StartStep()) : json;
}
