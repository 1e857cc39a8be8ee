using System.Collections.Concurrent;
using System.Text.Json;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Storage;

/// <summary>
/// The embedded default store: one JSON file per rollout in a folder, written to a temporary file,
/// flushed to disk, then renamed over the old one, so a kill at any moment leaves either the old or
/// the new state, never a torn one. Reads come from a cache of copies kept in step with the files.
/// </summary>
public sealed class FileRolloutStore : IRolloutStore
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly string _directory;
    private readonly ConcurrentDictionary<Guid, string> _cache = new();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _locks = new();

    public FileRolloutStore(IOptions<RolloutEngineOptions> options)
    {
        _directory = Path.GetFullPath(options.Value.StateDirectory);
        Directory.CreateDirectory(_directory);
        foreach (var file in Directory.EnumerateFiles(_directory, "*.json"))
        {
            var text = File.ReadAllText(file);
            var state = JsonSerializer.Deserialize<RolloutState>(text, Json);
            if (state != null) _cache[state.CorrelationId] = text;
        }
    }

    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RolloutState>>(
            _cache.Values.Select(t => JsonSerializer.Deserialize<RolloutState>(t, Json)!).ToList());

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(state.CorrelationId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var stored = _cache.TryGetValue(state.CorrelationId, out var text)
                ? JsonSerializer.Deserialize<RolloutState>(text, Json)!.Version
                : 0;
            if (stored != expectedVersion) throw new RolloutConcurrencyException(state.CorrelationId, expectedVersion, stored);

            var json = JsonSerializer.Serialize(state, Json);
            var path = Path.Combine(_directory, $"{state.CorrelationId:N}.json");
            var temp = path + ".tmp";
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
            {
                await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(json), cancellationToken);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            _cache[state.CorrelationId] = json;
        }
        finally
        {
            gate.Release();
        }
    }
}
