using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CanaryFlow.Sandbox.Workloads;

/// <summary>
/// A real Prometheus process on 127.0.0.1 with a fresh tsdb folder, scraping the given targets
/// (every second unless told otherwise). Can be stopped and started again on the same port and
/// data (outage tests). Used by the analysis tests, the benchmark and the demo.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string _folder;
    private Process? _process;

    private PrometheusProcess(string binary, string folder, int port)
    {
        _binary = binary;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The server's process id while it runs (benchmarks read its CPU time).</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;
    public Uri Address => new($"http://127.0.0.1:{Port}/");

    /// <summary>PROMETHEUS_BIN, else prometheus on PATH, else /usr/bin/prometheus.</summary>
    public static string FindBinary()
    {
        var fromEnv = Environment.GetEnvironmentVariable("PROMETHEUS_BIN");
        if (!string.IsNullOrWhiteSpace(fromEnv))
            return File.Exists(fromEnv) ? fromEnv : throw new InvalidOperationException($"PROMETHEUS_BIN points at '{fromEnv}', which does not exist.");
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "prometheus")).FirstOrDefault(File.Exists);
        if (onPath is not null) return onPath;
        if (File.Exists("/usr/bin/prometheus")) return "/usr/bin/prometheus";
        throw new InvalidOperationException(
            "No Prometheus binary: these tests need a real Prometheus. Set PROMETHEUS_BIN to its path, or put 'prometheus' on PATH " +
            "(Debian: apt-get download prometheus && dpkg-deb -x prometheus_*.deb DIR gives DIR/usr/bin/prometheus).");
    }

    public static async Task<PrometheusProcess> StartAsync(IEnumerable<string> scrapeTargets, TimeSpan? scrapeInterval = null)
    {
        var every = $"{(int)(scrapeInterval ?? TimeSpan.FromSeconds(1)).TotalSeconds}s";
        var folder = Directory.CreateTempSubdirectory("canaryflow-prometheus-").FullName;
        var targets = string.Join(", ", scrapeTargets.Select(t => $"'{t}'"));
        await File.WriteAllTextAsync(Path.Combine(folder, "prometheus.yml"), $"""
            global:
              scrape_interval: {every}
              evaluation_interval: {every}
            scrape_configs:
              - job_name: workloads
                scrape_interval: {every}
                scrape_timeout: {every}
                static_configs:
                  - targets: [{targets}]
            """);
        var server = new PrometheusProcess(FindBinary(), folder, FreePort());
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        if (_process is { HasExited: false }) return;
        var info = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _folder,
        };
        foreach (var arg in new[]
                 {
                     $"--config.file={Path.Combine(_folder, "prometheus.yml")}",
                     $"--storage.tsdb.path={Path.Combine(_folder, "data")}",
                     $"--web.listen-address=127.0.0.1:{Port}",
                     "--storage.tsdb.retention.time=1h",
                     "--log.level=warn",
                 })
            info.ArgumentList.Add(arg);
        _process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {_binary}.");
        // Drain the pipes so a chatty server never blocks on a full buffer.
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (_process.HasExited) throw new InvalidOperationException($"Prometheus exited with code {_process.ExitCode} at start-up.");
            try
            {
                using var response = await http.GetAsync(new Uri(Address, "-/ready"));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("Prometheus did not become ready within 10 s.");
    }

    /// <summary>Kills the process (an outage); the data folder stays for a restart.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } // best effort cleanup
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
