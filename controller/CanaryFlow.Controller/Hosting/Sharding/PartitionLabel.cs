using System.Text.Json.Nodes;
using k8s.Models;

namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The label that names a Canary's and its target Deployment's partition, so that a sharded replica's watches ask the API
/// server for its own partitions' objects only (a label selector), instead of receiving every event of the namespace and
/// dropping the others' (issue 15). The owner of a Canary's partition writes it on the Canary and on its target; the value
/// carries the partition count, so a change of that count makes every label stale at once and each new owner writes its
/// own. Copies CanaryFlow makes of a target (the primary) do not carry it, and a deleted Canary's target loses it.
/// </summary>
public static class PartitionLabel
{
    public const string Key = "canaryflow.dev/partition";

    /// <summary>"3-of-16": a label value (alphanumeric at both ends) that no other partition count shares.</summary>
    public static string Value(int partition, int partitions) => $"{partition}-of-{partitions}";

    /// <summary>The partition a value of this partition count names, or null (another count's value, or not one at all).</summary>
    public static int? Partition(string value, int partitions) =>
        int.TryParse(value.Split("-of-")[0], out var p) && p >= 0 && p < partitions && Value(p, partitions) == value ? p : null;

    /// <summary>The merge patch that sets the label to <paramref name="value"/> on any object (null takes it off): a change
    /// of the object's own labels, so no new revision and no new generation.</summary>
    public static V1Patch Patch(string? value) => new(new JsonObject
    {
        ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [Key] = value } },
    }.ToJsonString(), V1Patch.PatchType.MergePatch);

    /// <summary>The selector of the targets of <paramref name="held"/> (not empty: "in ()" is no valid selector).</summary>
    public static string Selector(IEnumerable<int> held, int partitions)
    {
        var values = held.Order().Select(p => Value(p, partitions)).ToList();
        if (values.Count == 0) throw new ArgumentException("no partition to select", nameof(held));
        return $"{Key} in ({string.Join(",", values)})";
    }

    /// <summary>The selector of the Canaries a replica holding <paramref name="held"/> must see: its own, and those no owner
    /// has labelled yet (a new Canary, or one labelled for another partition count), which every replica sees until their
    /// owner labels them. Written as "not another replica's" (<c>notin</c> also selects objects without the label); null
    /// when every partition is held (everything is selected).</summary>
    public static string? NotOthers(IEnumerable<int> held, int partitions)
    {
        var mine = held.ToHashSet();
        var others = Enumerable.Range(0, partitions).Where(p => !mine.Contains(p)).Select(p => Value(p, partitions)).ToList();
        return others.Count == 0 ? null : $"{Key} notin ({string.Join(",", others)})";
    }
}
