using System.Collections.Concurrent;
using System.Text.Json;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Storage;

/// <summary>
/// The embedded default store: one JSON file per rollout in a folder, written to a temporary file and
/// renamed over the old one, so a process killed at any moment leaves either the old or the new state,
/// never a torn one. No fsync: the page cache outlives a killed process, and an fsync per transition
/// costs more than the whole transition; a node crash is what the Kubernetes status store is for.
/// Reads come from a cache of snapshots kept in step with the files, so the ticker's frequent reads
/// cost no I/O and no parsing.
/// </summary>
public sealed class FileRolloutStore : IRolloutStore
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly string _directory;
    private readonly ConcurrentDictionary<Guid, RolloutState> _cache = new();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _locks = new();

    public FileRolloutStore(IOptions<RolloutEngineOptions> options)
    {
        _directory = Path.GetFullPath(options.Value.StateDirectory);
        Directory.CreateDirectory(_directory);
        foreach (var file in Directory.EnumerateFiles(_directory, "*.json"))
        {
            var state = JsonSerializer.Deserialize<RolloutState>(File.ReadAllText(file), Json);
            if (state != null) _cache[state.CorrelationId] = state;
        }
    }

    // One process owns the folder, so the cache is always as fresh as the files.
    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) =>
        Task.FromResult<IReadOnlyList<RolloutState>>(_cache.Values.ToList());

    public async Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(state.CorrelationId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var stored = _cache.TryGetValue(state.CorrelationId, out var current) ? current.Version : 0;
            if (stored != expectedVersion) throw new RolloutConcurrencyException(state.CorrelationId, expectedVersion, stored);

            var json = JsonSerializer.Serialize(state, Json);
            var path = Path.Combine(_directory, $"{state.CorrelationId:N}.json");
            var temp = path + ".tmp";
            await File.WriteAllTextAsync(temp, json, cancellationToken);
            File.Move(temp, path, overwrite: true);
            _cache[state.CorrelationId] = JsonSerializer.Deserialize<RolloutState>(json, Json)!; // a snapshot the saga cannot change
        }
        finally
        {
            gate.Release();
        }
    }
}
