using System.Diagnostics;
using CanaryFlow.Demo.Stories;
using k8s.Autorest;

namespace CanaryFlow.Demo.Cluster;

/// <summary><c>--kubeconfig</c>: the three stories on a real cluster, from preflight to cleanup. Ctrl+C and the
/// time limit both end the run the same way: summary of what ended, then cleanup (unless --keep).</summary>
public static class ClusterDemoCommand
{
    /// <param name="configureServices">For tests: e.g. the one logger factory a test process shares.</param>
    public static async Task<int> RunAsync(ClusterDemoOptions options, Action<IServiceCollection>? configureServices = null)
    {
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(options.Timeout);
        // The first Ctrl+C ends the run gracefully (summary, cleanup); a second one ends the process at once.
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            if (stop.IsCancellationRequested) return;
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            using var demo = new ClusterDemo(options);
            Console.WriteLine($"CanaryFlow demo on a cluster (namespace {options.Namespace}, analysis every {options.Interval.TotalSeconds:F0} s, " +
                              $"at most {options.Timeout.TotalMinutes:F0} min) — three releases of podinfo, judged by Prometheus on Istio's metrics:");
            foreach (var s in demo.Stories) Console.WriteLine($"  {s.Name,-9} {s.Describe(options.Tuning, ClusterManifests.Fault)}");
            await demo.PreflightAsync(stop.Token);
            try
            {
                return await RunStoriesAsync(demo, clock, configureServices, stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Console.Error.WriteLine("Stopped (the --timeout limit, or Ctrl+C) before the releases started.");
                return 1;
            }
            finally
            {
                await CleanupAsync(demo);
            }
        }
        catch (ClusterDemoException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        catch (HttpOperationException e) // e.g. RBAC refusing one write midway: say which, never a stack trace
        {
            Console.Error.WriteLine($"The Kubernetes API answered {(int)e.Response.StatusCode} to {e.Request.Method} {e.Request.RequestUri}: {e.Response.Content}");
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"The demo stopped: {e.Message}");
            return 1;
        }
        finally { Console.CancelKeyPress -= onCtrlC; }
    }

    private static async Task<int> RunStoriesAsync(ClusterDemo demo, Stopwatch clock, Action<IServiceCollection>? configureServices, CancellationToken stop)
    {
        Console.WriteLine($"Applying to namespace {demo.Options.Namespace}:");
        await demo.ApplyAsync(stop);
        var work = Directory.CreateTempSubdirectory("canaryflow-demo-").FullName;
        await using var controller = await demo.StartControllerAsync(work, configureServices, stop);
        Console.WriteLine($"Controller in this process on {demo.Options.Bus.Name} bus, leader election on (Lease {demo.Options.Namespace}/" +
                          $"{ClusterObjects.LeaseName}) · status page {controller.StatusPage}/");
        await demo.WaitInitializedAsync(stop);
        await demo.WaitForTelemetryAsync(stop);

        Console.WriteLine($"Releasing {ClusterManifests.NewImage} (payments with the fault flags on)");
        await demo.Objects.ReleaseAsync(stop);
        var figures = demo.Figures();
        var runner = new StoryRunner(demo.Stories, controller.Api, controller.Bus, figures.ReadAsync)
        {
            PollEvery = TimeSpan.FromSeconds(1),
            MeshEvery = TimeSpan.FromSeconds(10),
        };
        var finished = await runner.RunAsync(stop);

        using var read = new CancellationTokenSource(demo.Options.CleanupTimeout);
        var outcomes = new List<StoryOutcome>();
        foreach (var s in demo.Stories) outcomes.Add(await demo.Objects.OutcomeAsync(s, finished.GetValueOrDefault(s.Name), read.Token));
        return Summary.Print(outcomes, controller.ReportsDirectory, clock.Elapsed) ? 0 : 1;
    }

    private static async Task CleanupAsync(ClusterDemo demo)
    {
        var ns = demo.Options.Namespace;
        if (demo.Options.Keep)
        {
            Console.WriteLine($"--keep: everything stays in namespace {ns} (the load generator idles once the time limit has passed). " +
                              $"Remove it with: kubectl delete namespace {ns}  (or delete the Canaries, then the Deployments and Services named above)");
            return;
        }
        Console.WriteLine($"Cleaning up namespace {ns} ...");
        using var bound = new CancellationTokenSource(demo.Options.CleanupTimeout);
        try
        {
            foreach (var problem in await demo.Objects.CleanupAsync(bound.Token)) Console.Error.WriteLine($"  {problem}");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Cleanup did not finish ({e.Message}): remove what is left with kubectl delete namespace {ns}");
        }
    }
}
