using System.ComponentModel.DataAnnotations;

namespace CanaryFlow.Controller.Hooks;

/// <summary>
/// Section "Hooks": how the controller calls the hooks of Canary specs. The signing secret is a credential: it
/// comes from configuration (a mounted Secret), never from a Canary spec, and is never logged.
/// </summary>
public sealed class HookOptions
{
    public const string Section = "Hooks";

    /// <summary>Signs every hook body (<c>X-CanaryFlow-Signature</c>, as the signed notification webhook). Without it
    /// hooks are sent unsigned, with only the timestamp-free delivery header.</summary>
    [MinLength(16)]
    public string? SigningSecret { get; set; }

    /// <summary>Attempts per call, the first included: a failing hook costs a few requests, never a storm.</summary>
    [Range(1, 10)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>First retry delay; later ones grow exponentially with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A hook URL that failed 3 calls in a row is not called for this long (answered "unreachable" at once).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound of a hook's own timeout (the spec's <c>timeout</c>, default <see cref="DefaultTimeout"/>).</summary>
    public TimeSpan MaxTimeout { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Bounds of the built-in load generator, whatever a spec asks for.</summary>
    [Range(1, 1000)]
    public int MaxLoadRequestsPerSecond { get; set; } = 100;

    public TimeSpan MaxLoadDuration { get; set; } = TimeSpan.FromMinutes(10);
}
