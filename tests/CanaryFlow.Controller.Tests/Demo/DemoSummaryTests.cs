using CanaryFlow.Demo.Stories;

namespace CanaryFlow.Controller.Tests.Demo;

/// <summary>The demo's last lines list the reports the controller wrote: finished files only, waiting (bounded) for
/// those still being drawn.</summary>
public sealed class DemoSummaryTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("canaryflow-summary-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_report_still_being_written_is_waited_for_and_listed_under_its_final_name()
    {
        File.WriteAllText(Path.Combine(_folder, "a.png"), "png");
        var temp = Path.Combine(_folder, "a.svg.tmp");
        File.WriteAllText(temp, "<svg");
        var finish = Task.Run(async () => { await Task.Delay(300); File.Move(temp, Path.Combine(_folder, "a.svg")); });

        var listed = Summary.Reports(_folder, expected: 2, TimeSpan.FromSeconds(30));
        await finish;

        Assert.Equal([Path.Combine(_folder, "a.png"), Path.Combine(_folder, "a.svg")], listed);
    }

    [Fact]
    public void A_report_never_finished_is_left_out_once_the_wait_is_over()
    {
        File.WriteAllText(Path.Combine(_folder, "a.png"), "png");
        File.WriteAllText(Path.Combine(_folder, "a.svg.tmp"), "<svg");

        var listed = Summary.Reports(_folder, expected: 2, TimeSpan.FromMilliseconds(300));

        Assert.Equal([Path.Combine(_folder, "a.png")], listed);
    }
}
