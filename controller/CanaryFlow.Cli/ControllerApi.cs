using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using CanaryFlow.Contracts;

namespace CanaryFlow.Cli;

/// <summary>Reads the controller's status API (GET /api/rollouts, /api/rollouts/{ns}/{name}).</summary>
public sealed class ControllerApi(Uri baseAddress) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http = new() { BaseAddress = new Uri(baseAddress.ToString().TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(10) };

    public async Task<IReadOnlyList<RolloutStatusView>> ListAsync(CancellationToken cancellationToken) =>
        await GetAsync<List<RolloutStatusView>>("api/rollouts", null, cancellationToken) ?? [];

    /// <exception cref="CliException">Not found (3) or unreachable (4).</exception>
    public async Task<RolloutStatusView> GetAsync(RolloutTarget target, CancellationToken cancellationToken) =>
        await GetAsync<RolloutStatusView>($"api/rollouts/{Uri.EscapeDataString(target.Namespace)}/{Uri.EscapeDataString(target.Name)}", target, cancellationToken)
        ?? throw new CliException(ExitCodes.NotFound, $"No rollout for {target}.");

    private async Task<T?> GetAsync<T>(string path, RolloutTarget? target, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(path, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound && target is not null)
                throw new CliException(ExitCodes.NotFound, $"No rollout for {target} (the controller at {_http.BaseAddress} does not know it).");
            if (!response.IsSuccessStatusCode)
                throw new CliException(ExitCodes.Failed, $"The controller answered {(int)response.StatusCode} {response.ReasonPhrase} for {path}.");
            return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or SocketException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new CliException(ExitCodes.Unreachable, $"Cannot reach the controller at {_http.BaseAddress}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Failed, $"The controller's answer for {path} is not a rollout status: {e.Message}");
        }
    }

    public void Dispose() => _http.Dispose();
}
