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
/// One report is drawn at a time: a drawing takes a 3 MB Skia surface and about 2.7 MB of managed garbage, and when
/// hundreds of rollouts end within seconds, the report queue's consumers (as many as the bus lets run at once) drew
/// side by side and the process grew by as many drawings. The queue keeps the rest until their turn.
/// </summary>
public sealed class RolloutReportWriter(IOptions<ObservabilityOptions> options, RolloutHistory history, ILogger<RolloutReportWriter> logger)
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    /// <summary>Called as a drawing begins, inside the one-at-a-time section (tests watch the order through it).</summary>
    internal Action<RolloutTransitioned>? Drawing { get; set; }

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
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            Drawing?.Invoke(transition);
            Write(path, s => RolloutReport.WritePng(timeline, s));
            Write(Path.ChangeExtension(path, ".svg"), s => RolloutReport.WriteSvg(timeline, s));
        }
        finally
        {
            _oneAtATime.Release();
        }
        logger.LogInformation("Rollout report for {Target} ({Phase}) written to {Path}", transition.Target, transition.Phase, path);
        return path;
    }

    // Skia draws synchronously: the file is written as it draws, then moved into place, so a reader never sees half a file.
    private static void Write(string path, Action<Stream> draw)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 16 * 1024))
            draw(file);
        File.Move(temp, path, overwrite: true);
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
