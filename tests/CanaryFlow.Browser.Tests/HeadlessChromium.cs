using Microsoft.Playwright;

namespace CanaryFlow.Browser.Tests;

/// <summary>
/// Debian's Chromium, launched by Playwright's bundled driver (nothing is downloaded: never
/// `playwright install`). A missing browser fails the test with the line that installs it.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new Xunit.Sdk.XunitException($"{ExecutablePath} is missing: install Debian's Chromium with `apt-get install -y chromium` (CI does).");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        return new HeadlessChromium(playwright, browser);
    }

    /// <summary>Where screenshots are kept: $CANARYFLOW_ARTIFACTS, else .ci-work/results/browser (CI's test results folder).</summary>
    public static string ArtifactPath(string fileName)
    {
        var folder = Environment.GetEnvironmentVariable("CANARYFLOW_ARTIFACTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(CanaryFlow.Controller.Tests.Infrastructure.RepositoryRoot.Path, ".ci-work", "results", "browser");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, fileName);
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
