using System.Collections.Concurrent;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Web;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Observability;

/// <summary>
/// Saves one report per finished rollout (Succeeded or Failed) into
/// <see cref="ObservabilityOptions.ReportsDirectory"/>: a PNG named by <see cref="FileName"/>, and the same
/// chart as SVG beside it (same name, ".svg"), which scales for print and zoom.
/// </summary>
public sealed class RolloutReportWriter(IOptions<ObservabilityOptions> options, RolloutHistory history, ILogger<RolloutReportWriter> logger)
{
    private readonly ConcurrentDictionary<Guid, string> _written = new();

    /// <summary>The report written for each target's latest finished rollout, by target correlation id.</summary>
    public string? LatestFor(RolloutTarget target) => _written.TryGetValue(RolloutIds.ForTarget(target), out var p) ? p : null;

    /// <summary>Writes the report when <paramref name="transition"/> finishes a rollout; returns its path, or null.</summary>
    public async Task<string?> OnTransitionAsync(RolloutTransitioned transition, CancellationToken cancellationToken)
    {
        var folder = options.Value.ReportsDirectory;
        if (string.IsNullOrWhiteSpace(folder) || transition.Phase is not (RolloutPhases.Succeeded or RolloutPhases.Failed)) return null;

        // The history consumer may not have seen this message yet: add it (Add ignores a duplicate).
        history.Add(transition);
        var timeline = RolloutTimeline.From(history.For(transition.CorrelationId));
        if (timeline is null) return null;

        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName(transition));
        await WriteAsync(path, RolloutReport.Png(timeline), cancellationToken);
        await WriteAsync(Path.ChangeExtension(path, ".svg"), System.Text.Encoding.UTF8.GetBytes(RolloutReport.Svg(timeline)), cancellationToken);
        _written[transition.CorrelationId] = path;
        logger.LogInformation("Rollout report for {Target} ({Phase}) written to {Path}", transition.Target, transition.Phase, path);
        return path;
    }

    private static async Task WriteAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, content, cancellationToken);
        File.Move(temp, path, overwrite: true); // a reader never sees half a file
    }

    /// <summary>"&lt;namespace&gt;_&lt;name&gt;_&lt;revision&gt;_&lt;phase&gt;.png", with anything but [A-Za-z0-9.-] replaced.</summary>
    public static string FileName(RolloutTransitioned t) =>
        $"{Safe(t.Target.Namespace)}_{Safe(t.Target.Name)}_{Safe(t.Revision)}_{t.Phase.ToLowerInvariant()}.png";

    private static string Safe(string text)
    {
        var chars = text.Take(63).Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-').ToArray();
        return chars.Length == 0 ? "x" : new string(chars);
    }
}

public sealed class RolloutReportConsumer(RolloutReportWriter writer) : IConsumer<RolloutTransitioned>
{
    public Task Consume(ConsumeContext<RolloutTransitioned> context) => writer.OnTransitionAsync(context.Message, context.CancellationToken);
}
