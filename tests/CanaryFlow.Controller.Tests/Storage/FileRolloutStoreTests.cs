using System.Text.Json;
using CanaryFlow.Contracts;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Storage;
using CanaryFlow.Controller.Tests.Rollouts;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Tests.Storage;

/// <summary>The embedded store's journal: what a kill, an earlier folder layout and compaction leave behind.</summary>
public sealed class FileRolloutStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("canaryflow-store-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private FileRolloutStore Open() => new(Options.Create(new RolloutEngineOptions { StateDirectory = _folder }));

    private static RolloutState Rollout(string name)
    {
        var target = new RolloutTarget("shop", name);
        var s = new RolloutState { CorrelationId = RolloutIds.ForTarget(target), CurrentState = RolloutPhases.Initializing };
        s.Begin(TestPlans.Request(target, "v2", TestPlans.TenToHundred), DateTimeOffset.UnixEpoch);
        return s;
    }

    /// <summary>Saves the next version, as the persist filter does.</summary>
    private static async Task SaveNext(IRolloutStore store, RolloutState s)
    {
        s.Version++;
        await store.SaveAsync(s, s.Version - 1, CancellationToken.None);
    }

    private string Journal => Path.Combine(_folder, FileRolloutStore.JournalName);

    [Fact]
    public async Task A_save_torn_by_a_kill_is_skipped_and_every_earlier_save_loads()
    {
        var a = Rollout("a");
        var b = Rollout("b");
        using (var store = Open())
        {
            await SaveNext(store, a);
            await SaveNext(store, b);
            b.EnterStep(0, DateTimeOffset.UnixEpoch, "ready");
            await SaveNext(store, b);
        }
        // A kill in the middle of the next line's write.
        var torn = JsonSerializer.Serialize(WithStep(b, 1));
        await File.AppendAllTextAsync(Journal, torn[..(torn.Length / 2)]);

        using var restarted = Open();
        var loaded = (await restarted.LoadAllAsync(CancellationToken.None)).ToDictionary(s => s.CorrelationId);
        Assert.Equal(1, loaded[a.CorrelationId].Version);
        Assert.Equal(2, loaded[b.CorrelationId].Version);
        Assert.Equal(0, loaded[b.CorrelationId].StepIndex);

        // The next save starts on a clean line, and a later start reads it.
        var resumed = loaded[b.CorrelationId].Clone();
        resumed.EnterStep(1, DateTimeOffset.UnixEpoch, "passed");
        await SaveNext(restarted, resumed);
        restarted.Dispose();
        var again = await Open().LoadAsync(b.CorrelationId, CancellationToken.None);
        Assert.Equal((3, 1), (again!.Version, again.StepIndex));
    }

    private static RolloutState WithStep(RolloutState s, int step)
    {
        var next = s.Clone();
        next.EnterStep(step, DateTimeOffset.UnixEpoch, "passed");
        next.Version++;
        return next;
    }

    [Fact]
    public async Task A_folder_of_the_earlier_one_file_per_rollout_layout_is_read_and_moved_into_the_journal()
    {
        var a = Rollout("a");
        a.Version = 5;
        await File.WriteAllTextAsync(Path.Combine(_folder, $"{a.CorrelationId:N}.json"), JsonSerializer.Serialize(a, new JsonSerializerOptions { WriteIndented = true }));

        using (var store = Open())
        {
            Assert.Equal(5, (await store.LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
            await SaveNext(store, a);
        }

        Assert.Empty(Directory.GetFiles(_folder, "*.json"));
        Assert.Equal(6, (await Open().LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task The_journal_stays_bounded_and_keeps_the_latest_save_of_every_rollout()
    {
        var rollouts = Enumerable.Range(0, 10).Select(i => Rollout($"svc-{i}")).ToList();
        using (var store = Open())
        {
            for (var round = 0; round < 300; round++)
                foreach (var r in rollouts)
                {
                    r.Note($"round {round}", DateTimeOffset.UnixEpoch);
                    await SaveNext(store, r);
                }
        }

        Assert.True(File.ReadLines(Journal).Count() <= 1024 + 1, "the journal was never compacted");
        var loaded = await Open().LoadAllAsync(CancellationToken.None);
        Assert.Equal(10, loaded.Count);
        Assert.All(loaded, s => Assert.Equal((300, "round 299"), (s.Version, s.LastReason)));
    }

    [Fact]
    public async Task Saves_made_while_the_journal_is_compacted_are_carried_into_the_new_journal()
    {
        // 2,000 rollouts make each compaction long enough (tens of milliseconds) for the writers' saves to land in it.
        var rollouts = Enumerable.Range(0, 2000).Select(i => Rollout($"svc-{i}")).ToList();
        (int Compactions, int LinesCarriedOver) compactions;
        using (var store = Open())
        {
            foreach (var r in rollouts) await SaveNext(store, r);
            // Four writers, each with its own rollouts, as the saga's concurrent deliveries: 24,000 saves, several compactions.
            await Task.WhenAll(rollouts.Chunk(500).Select(mine => Task.Run(async () =>
            {
                for (var round = 0; round < 12; round++)
                    foreach (var r in mine)
                    {
                        r.Note($"round {round}", DateTimeOffset.UnixEpoch);
                        await SaveNext(store, r);
                    }
            })));
            compactions = store.BackgroundCompactions;
        }

        Assert.True(compactions.Compactions >= 2, $"{compactions.Compactions} background compactions");
        Assert.True(compactions.LinesCarriedOver > 0, "no save came while a compaction ran: the test proved nothing");
        Assert.True(File.ReadLines(Journal).Count() <= 4 * rollouts.Count + compactions.LinesCarriedOver, "the journal was not kept bounded");
        Assert.False(File.Exists(Journal + ".compacting"));
        var loaded = (await Open().LoadAllAsync(CancellationToken.None)).ToDictionary(s => s.CorrelationId);
        Assert.Equal(rollouts.Count, loaded.Count);
        Assert.All(rollouts, r => Assert.Equal((13, "round 11"), (loaded[r.CorrelationId].Version, loaded[r.CorrelationId].LastReason)));
    }

    [Fact]
    public async Task A_compaction_file_left_by_a_kill_is_removed_and_the_journal_it_did_not_replace_loads()
    {
        var a = Rollout("a");
        using (var store = Open()) await SaveNext(store, a);
        await File.WriteAllTextAsync(Journal + ".compacting", "{\"half of a snapshot");

        using (var restarted = Open())
        {
            Assert.Equal(1, (await restarted.LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
            await SaveNext(restarted, a);
        }

        Assert.False(File.Exists(Journal + ".compacting"));
        Assert.Equal(2, (await Open().LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task A_second_instance_that_only_reads_does_not_disturb_the_writer()
    {
        var a = Rollout("a");
        using var writer = Open();
        await SaveNext(writer, a);

        using (var reader = Open())
            Assert.Equal(1, (await reader.LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);

        await SaveNext(writer, a);
        using var later = Open();
        Assert.Equal(2, (await later.LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task A_save_that_expects_another_version_is_refused_and_not_written()
    {
        var a = Rollout("a");
        using (var store = Open())
        {
            await SaveNext(store, a);
            var stale = a.Clone();
            stale.Version = 7;
            await Assert.ThrowsAsync<RolloutConcurrencyException>(() => store.SaveAsync(stale, 6, CancellationToken.None));
        }
        Assert.Equal(1, (await Open().LoadAsync(a.CorrelationId, CancellationToken.None))!.Version);
        Assert.DoesNotContain("\"Version\":7", await File.ReadAllTextAsync(Journal), StringComparison.Ordinal);
    }
}
