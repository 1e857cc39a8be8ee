namespace CanaryFlow.Controller.Hosting.Sharding;

/// <summary>
/// The label that names a target Deployment's partition, so that a sharded replica's Deployment watch asks the API server
/// for its own partitions' targets only (a label selector), instead of receiving every Deployment event of the namespace
/// and dropping the others' (issue 15). The owner of a Canary's partition writes it on the Canary's target; the value
/// carries the partition count, so a change of that count makes every label stale at once and each new owner writes its
/// own. Copies CanaryFlow makes of a target (the primary) do not carry it, and a deleted Canary's target loses it.
/// </summary>
public static class PartitionLabel
{
    public const string Key = "canaryflow.dev/partition";

    /// <summary>"3-of-16": a label value (alphanumeric at both ends) that no other partition count shares.</summary>
    public static string Value(int partition, int partitions) => $"{partition}-of-{partitions}";

    /// <summary>The selector of the targets of <paramref name="held"/> (not empty: "in ()" is no valid selector).</summary>
    public static string Selector(IEnumerable<int> held, int partitions)
    {
        var values = held.Order().Select(p => Value(p, partitions)).ToList();
        if (values.Count == 0) throw new ArgumentException("no partition to select", nameof(held));
        return $"{Key} in ({string.Join(",", values)})";
    }
}
