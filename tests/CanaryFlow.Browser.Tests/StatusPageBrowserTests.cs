using CanaryFlow.Contracts;
using CanaryFlow.Controller.Tests.Observability;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace CanaryFlow.Browser.Tests;

public sealed class StatusPageBrowserTests
{
    private static readonly RolloutTarget Checkout = new("shop", "checkout");

    // Shorter than the page's 10 s safety-net refresh: what the page shows in time came over the live stream.
    private static readonly LocatorAssertionsToHaveAttributeOptions Live = new() { Timeout = 5000 };

    private static async Task<IPage> Open(HeadlessChromium chromium, ObservedController controller)
    {
        var page = await chromium.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 1300 } });
        await page.GotoAsync(controller.BaseAddress.ToString());
        await Expect(page.Locator("#live")).ToHaveClassAsync("live on", new() { Timeout = 5000 });
        return page;
    }

    /// <summary>
    /// Axes that fit the data: every marker, threshold and tick label lies inside the vertical band of a panel
    /// (a degenerate or too-narrow range would put them on or past its edges). Returns what does not.
    /// </summary>
    private static Task<string[]> OutsideTheirPanel(ILocator chart) => chart.EvaluateAsync<string[]>("""
        svg => {
          const panels = [...svg.querySelectorAll("rect")].map(r => [+r.getAttribute("y"), +r.getAttribute("y") + +r.getAttribute("height")]);
          const inside = y => panels.some(([top, bottom]) => y > top + 0.5 && y < bottom - 0.5);
          const ys = [...svg.querySelectorAll("circle.verdict, circle.check")].map(c => ["circle." + c.getAttribute("class"), +c.getAttribute("cy")])
            .concat([...svg.querySelectorAll("line.threshold")].map(l => ["threshold", +l.getAttribute("y1")]));
          return ys.filter(([, y]) => !inside(y)).map(([what, y]) => what + " at y=" + y);
        }
        """);

    [Fact]
    public async Task The_page_shows_a_running_rollout_and_follows_its_weight_live()
    {
        await using var controller = await ObservedController.StartAsync();
        await using var chromium = await HeadlessChromium.LaunchAsync();
        await controller.Request(Checkout, "v2", 10, 30, 60, 100);
        await controller.Until(Checkout, v => v.CanaryWeight == 10, "canary at 10%");

        var page = await Open(chromium, controller);
        var row = page.Locator("tr[data-target='shop/checkout']");
        await Expect(row).ToHaveAttributeAsync("data-weight", "10", Live);
        await Expect(row).ToHaveAttributeAsync("data-phase", "Progressing", Live);
        await page.EvaluateAsync("window.__loadedOnce = true");

        await controller.Step(Checkout);
        await Expect(row).ToHaveAttributeAsync("data-weight", "30", Live);
        await controller.Step(Checkout);
        await Expect(row).ToHaveAttributeAsync("data-weight", "60", Live);

        var chart = page.Locator("section[data-target='shop/checkout'] svg");
        await Expect(chart.Locator("circle.verdict.pass")).ToHaveCountAsync(2, new() { Timeout = 5000 });
        await Expect(chart.Locator("path.series")).ToHaveCountAsync(5, new() { Timeout = 5000 }); // weight + 2 × (canary, stable)
        await Expect(chart.Locator("path.series.stable")).ToHaveCountAsync(2);
        await Expect(chart.Locator("line.threshold")).ToHaveCountAsync(2); // success rate min 99, P99 max 500
        await Expect(chart.Locator("circle.check.pass")).ToHaveCountAsync(4); // 2 checks, each on both metric panels
        Assert.Empty(await OutsideTheirPanel(chart));
        Assert.True(await page.EvaluateAsync<bool>("window.__loadedOnce === true"), "the page reloaded instead of updating live");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = HeadlessChromium.ArtifactPath("status-page-progressing.png"), FullPage = true });
    }

    [Fact]
    public async Task A_failed_rollout_shows_its_phase_and_the_failed_check_on_the_chart()
    {
        await using var controller = await ObservedController.StartAsync();
        await using var chromium = await HeadlessChromium.LaunchAsync();
        controller.World[Checkout].FailFromWeight = 30;
        await controller.Request(Checkout, "v3", 10, 30, 60, 100);
        await controller.Until(Checkout, v => v.CanaryWeight == 10, "canary at 10%");

        var page = await Open(chromium, controller);
        var row = page.Locator("tr[data-target='shop/checkout']");
        await Expect(row).ToHaveAttributeAsync("data-weight", "10", Live);
        await controller.RunToEnd(Checkout);

        await Expect(row).ToHaveAttributeAsync("data-phase", "Failed", Live);
        var chart = page.Locator("section[data-target='shop/checkout'] svg");
        await Expect(chart.Locator("circle.verdict.fail")).ToHaveCountAsync(1, new() { Timeout = 5000 });
        await Expect(chart.Locator("circle.check.fail")).ToHaveCountAsync(2); // the failing check on both metric panels
        await Expect(chart.Locator("line.threshold title")).ToHaveTextAsync(["threshold: min 99", "threshold: max 500"]);
        Assert.Empty(await OutsideTheirPanel(chart));
        await Expect(row.Locator("a.report.png")).ToHaveAttributeAsync("href", "/api/rollouts/shop/checkout/report.png");
        await Expect(row.Locator("a.report.svg")).ToHaveAttributeAsync("href", "/api/rollouts/shop/checkout/report.svg");
        // The Owner column (sharded replicas show which replica owns each row): one unsharded replica owns all of them.
        await Expect(row.Locator("td.owner")).ToHaveTextAsync("this replica");
        await Expect(row.Locator("td.owner")).ToHaveAttributeAsync("data-local", "true");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = HeadlessChromium.ArtifactPath("status-page-failed.png"), FullPage = true });
    }
}
