using System.Collections.Concurrent;
using System.Text.Json;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Storage;

/// <summary>
/// The embedded default store: an append-only journal in a folder, one JSON line per save, each line
/// written with a single write call, so a process killed at any moment leaves every earlier save whole and
/// at most a torn last line (skipped on load). The journal is rewritten (compacted) to the latest state of
/// each rollout before the first save of this process (which also drops a torn last line) and whenever it
/// holds a few times more lines than rollouts: into a temporary file
/// renamed over the old one, so a kill during compaction leaves the old journal. The process's first compaction, and
/// one after a write that failed (it may have torn a line), are done inside a save; the ones for size are written in the
/// background while saves go on (see <see cref="CompactInBackground"/>). No fsync: the page cache
/// outlives a killed process; a node crash is what the Kubernetes status store is for.
/// Why a journal: one file per rollout cost an open, a write, a close and a rename per transition, the
/// largest single cost of the engine in the profile (docs/benchmarks.md, Engine). Folders of the earlier
/// one-file-per-rollout layout are read and folded into the journal at start.
/// Reads come from a cache of snapshots kept in step with the journal, so the ticker's frequent reads
/// cost no I/O and no parsing.
/// </summary>
public sealed class FileRolloutStore : IRolloutStore, IDisposable
{
    public const string JournalName = "rollouts.journal";
    private const int MinLinesBeforeCompaction = 1024;
    private const int LinesPerRolloutBeforeCompaction = 4;
    private const string CompactingSuffix = ".compacting";

    private readonly string _journalPath;
    private readonly ConcurrentDictionary<Guid, RolloutState> _cache = new();
    private readonly Lock _write = new();
    private readonly List<string> _earlierLayout;
    private FileStream? _journal; // opened by the first save: an instance that only reads never writes
    private int _lines;
    // A compaction under way in the background, and the lines saved since its snapshot was taken (it appends them to the
    // new journal before the swap). Both under _write.
    private Task? _compaction;
    private List<byte[]>? _savedSinceSnapshot;

    /// <summary>Compactions done in the background, and lines they carried over from saves made while they ran (for tests).</summary>
    internal (int Compactions, int LinesCarriedOver) BackgroundCompactions { get; private set; }

    public FileRolloutStore(IOptions<RolloutEngineOptions> options)
    {
        var directory = Path.GetFullPath(options.Value.StateDirectory);
        Directory.CreateDirectory(directory);
        _journalPath = Path.Combine(directory, JournalName);
        _earlierLayout = Directory.EnumerateFiles(directory, "*.json").ToList();
        foreach (var file in _earlierLayout)
            Keep(JsonSerializer.Deserialize<RolloutState>(File.ReadAllBytes(file)));
        if (File.Exists(_journalPath))
            foreach (var line in File.ReadLines(_journalPath))
                Keep(Parse(line));
    }

    // One process owns the folder, so the cache is always as fresh as the journal.
    public Task<IReadOnlyList<RolloutState>> LoadAllAsync(CancellationToken cancellationToken, bool fresh = false) =>
        Task.FromResult<IReadOnlyList<RolloutState>>(_cache.Values.ToList());

    public Task<RolloutState?> LoadAsync(Guid correlationId, CancellationToken cancellationToken) =>
        Task.FromResult(_cache.GetValueOrDefault(correlationId));

    public Task SaveAsync(RolloutState state, long expectedVersion, CancellationToken cancellationToken)
    {
        var line = JsonLine(state); // outside the lock: the saga owns this state until the save returns
        lock (_write)
        {
            var stored = _cache.TryGetValue(state.CorrelationId, out var current) ? current.Version : 0;
            if (stored != expectedVersion) throw new RolloutConcurrencyException(state.CorrelationId, expectedVersion, stored);
            ObjectDisposedException.ThrowIf(_disposed, this);
            _journal ??= Compact();
            try { _journal.Write(line); } // one write call: the line is in the page cache when this returns
            catch
            {
                // A write that failed partway may leave a torn line: the next save compacts afresh instead of appending
                // to it (an appended line would be unreadable, and lost at the next start).
                _journal.Dispose();
                _journal = null;
                throw;
            }
            _savedSinceSnapshot?.Add(line);
            _cache[state.CorrelationId] = state.Clone(); // a snapshot the saga cannot change (it replaces fields, never edits them)
            if (++_lines > Math.Max(MinLinesBeforeCompaction, LinesPerRolloutBeforeCompaction * _cache.Count) && _compaction is null)
            {
                // Not in this save: rewriting every rollout's state here held the lock, and so every rollout's save, for
                // 12–50 ms at 1,000–10,000 rollouts each time (docs/benchmarks.md, "The embedded store's compaction").
                _savedSinceSnapshot = [];
                var snapshot = _cache.Values.ToArray();
                _compaction = Task.Run(() => CompactInBackground(snapshot));
            }
        }
        return Task.CompletedTask;
    }

    private bool _disposed;

    public void Dispose()
    {
        Task? compaction;
        lock (_write) compaction = _compaction;
        compaction?.Wait(); // it ends on its own; a journal swapped after the dispose would be left open
        lock (_write)
        {
            _disposed = true;
            _journal?.Dispose();
        }
    }

    /// <summary>
    /// Writes <paramref name="snapshot"/> (the latest state of every rollout when the compaction began) to a temporary file
    /// without the lock, then, under it, the lines saved since, and renames the file over the journal, which later saves
    /// append to. Until the rename the old journal holds every save, so a kill at any point loses nothing; a failed
    /// compaction leaves it in use, and the next save past the limit tries again.
    /// </summary>
    private void CompactInBackground(RolloutState[] snapshot)
    {
        var temp = _journalPath + CompactingSuffix;
        try
        {
            var rewrite = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024);
            try
            {
                foreach (var state in snapshot) rewrite.Write(JsonLine(state));
                lock (_write)
                {
                    if (_disposed || _journal is null) return; // disposed, or a failed write made the next save compact afresh
                    var since = _savedSinceSnapshot!;
                    foreach (var line in since) rewrite.Write(line);
                    rewrite.Dispose();
                    File.Move(temp, _journalPath, overwrite: true);
                    _journal.Dispose();
                    _journal = null; // if the new one does not open, the next save compacts afresh
                    _journal = OpenForAppend();
                    foreach (var file in _earlierLayout) File.Delete(file); // now in the journal
                    _earlierLayout.Clear();
                    _lines = snapshot.Length + since.Count;
                    BackgroundCompactions = (BackgroundCompactions.Compactions + 1, BackgroundCompactions.LinesCarriedOver + since.Count);
                }
            }
            finally
            {
                rewrite.Dispose();
                File.Delete(temp); // gone already when renamed
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the old journal is still whole and in use
        finally
        {
            lock (_write)
            {
                _savedSinceSnapshot = null;
                _compaction = null;
            }
        }
    }

    /// <summary>Writes the latest state of every rollout to a new journal and opens it for appending.</summary>
    private FileStream Compact()
    {
        var temp = _journalPath + ".tmp";
        using (var rewrite = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024))
            foreach (var state in _cache.Values)
                rewrite.Write(JsonLine(state));
        File.Move(temp, _journalPath, overwrite: true);
        foreach (var file in _earlierLayout) File.Delete(file); // now in the journal
        _earlierLayout.Clear();
        File.Delete(_journalPath + CompactingSuffix); // a background compaction's file, left by a kill before its rename
        _lines = _cache.Count;
        return OpenForAppend();
    }

    // bufferSize 0: every Write goes straight to the file, never half of it to a buffer.
    private FileStream OpenForAppend() => new(_journalPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);

    private static byte[] JsonLine(RolloutState state)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(state);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>A line of the journal, or null for a line torn by a kill in the middle of its write.</summary>
    private static RolloutState? Parse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try { return JsonSerializer.Deserialize<RolloutState>(line); }
        catch (JsonException) { return null; }
    }

    /// <summary>The newest save of each rollout wins.</summary>
    private void Keep(RolloutState? state)
    {
        if (state is null) return;
        if (!_cache.TryGetValue(state.CorrelationId, out var known) || known.Version <= state.Version) _cache[state.CorrelationId] = state;
    }
}
