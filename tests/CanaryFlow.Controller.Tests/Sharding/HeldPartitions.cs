using System.Threading.Channels;
using CanaryFlow.Controller.Hosting.Sharding;

namespace CanaryFlow.Controller.Tests.Sharding;

/// <summary>The partitions a test replica holds, changed by the test as a Lease loop would: each change cancels
/// <see cref="Changed"/> (and announces itself on <see cref="Changes"/>, which nobody here reads).</summary>
public sealed class HeldPartitions(int partitions, params int[] held) : IPartitionOwnership
{
    private readonly HashSet<int> _held = [.. held];
    private readonly Channel<PartitionChange> _changes = Channel.CreateUnbounded<PartitionChange>();
    private CancellationTokenSource _changed = new();

    public int Partitions => partitions;
    public bool Owns(int partition) { lock (_held) return _held.Contains(partition); }
    public CancellationToken Changed { get { lock (_held) return _changed.Token; } }
    public ChannelReader<PartitionChange> Changes => _changes.Reader;
    public Task GiveUpAsync(int partition) => Set(_held.Where(p => p != partition).ToArray());

    public async Task Set(params int[] now)
    {
        CancellationTokenSource ended;
        lock (_held)
        {
            foreach (var p in _held.Except(now)) _changes.Writer.TryWrite(new PartitionChange(p, Held: false));
            foreach (var p in now.Except(_held)) _changes.Writer.TryWrite(new PartitionChange(p, Held: true));
            _held.Clear();
            _held.UnionWith(now);
            (ended, _changed) = (_changed, new CancellationTokenSource());
        }
        await ended.CancelAsync();
    }
}
