using System.Net.Http.Json;
using CanaryFlow.Contracts;
using MassTransit;

namespace CanaryFlow.Demo.Stories;

/// <summary>
/// Follows the stories' rollouts on the controller's own API (<c>/api/rollouts</c>) until each has ended or
/// time is up: prints the live view, and at the gated story's approval gate sends the promote message a user
/// would send. The same for every mode; only where the mesh figures come from differs.
/// </summary>
public sealed class StoryRunner(IReadOnlyList<DemoStory> stories, HttpClient controllerApi, IBus bus,
    Func<CancellationToken, Task<IReadOnlyDictionary<string, (double? ErrorPercent, double? P99Ms)>>> readMesh)
{
    /// <summary>How often the rollouts are read; the mesh figures (Prometheus queries) at most every <see cref="MeshEvery"/>.</summary>
    public TimeSpan PollEvery { get; init; } = TimeSpan.FromMilliseconds(300);
    public TimeSpan MeshEvery { get; init; } = TimeSpan.FromSeconds(2);

    /// <returns>The last view of every rollout that ended (Succeeded or Failed), by service name.</returns>
    public async Task<IReadOnlyDictionary<string, RolloutStatusView>> RunAsync(CancellationToken stop)
    {
        var view = new LiveView();
        var meshNow = new Dictionary<string, (double? ErrorPercent, double? P99Ms)>();
        var lastMeshRead = DateTime.MinValue;
        var approved = false;
        var finished = new Dictionary<string, RolloutStatusView>();
        try
        {
            while (finished.Count < stories.Count && !stop.IsCancellationRequested)
            {
                await Task.Delay(PollEvery, stop);
                var all = await controllerApi.GetFromJsonAsync<List<RolloutStatusView>>("api/rollouts", stop) ?? [];
                if (DateTime.UtcNow - lastMeshRead > MeshEvery)
                {
                    // The figures are for the eye only: a Prometheus hiccup leaves the last ones on screen.
                    try { meshNow = new(await readMesh(stop)); } catch (Exception e) when (e is not OperationCanceledException) { }
                    lastMeshRead = DateTime.UtcNow;
                }
                foreach (var v in all)
                {
                    if (stories.FirstOrDefault(x => x.Name == v.Target.Name) is not { } s) continue;
                    view.Show(v, LiveView.Mesh(meshNow, v.Target.Name));
                    if (v.Phase is RolloutPhases.Succeeded or RolloutPhases.Failed) finished[s.Name] = v;
                    if (s.ApprovalGate && v.Phase == RolloutPhases.WaitingApproval && !approved)
                    {
                        approved = true;
                        Console.WriteLine($"{DateTime.Now:HH:mm:ss} {s.Name,-9} waits at its approval gate — sending PromoteRollout as user:demo");
                        await bus.Publish(new PromoteRollout(RolloutIds.ForTarget(v.Target), v.Target, "user:demo", "approved in the demo"), stop);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { } // time is up: the summary says which did not end
        return finished;
    }
}
