using System.Text;

namespace CanaryFlow.Analysis.Prometheus;

/// <summary>
/// The values of a sink's first label that it wants (e.g. the workloads of the rollouts this replica checks): the
/// reader drops every other sample as soon as it has read that label, comparing the UTF-8 bytes of the value without
/// making a string of it. Why: the counter answers are namespace-wide (one batched query, whatever the number of
/// canaries), and with several replicas most of their series belong to rollouts another replica owns. Immutable.
/// </summary>
public sealed class LabelFilter
{
    private readonly HashSet<string> _values;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public LabelFilter(IEnumerable<string> values)
    {
        _values = new HashSet<string>(values, StringComparer.Ordinal);
        _lookup = _values.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _values.Count;

    public IEnumerable<string> Values => _values;

    public bool Contains(string value) => _values.Contains(value);

    public bool Contains(ReadOnlySpan<char> value) => _lookup.Contains(value);

    /// <summary>Whether the UTF-8 <paramref name="utf8"/> (unescaped) is one of the values, with no allocation for
    /// values up to 256 characters (Kubernetes names are at most 253).</summary>
    public bool Contains(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > 256) return _values.Contains(Encoding.UTF8.GetString(utf8));
        Span<char> chars = stackalloc char[256];
        return Encoding.UTF8.TryGetChars(utf8, chars, out var written) && Contains(chars[..written]);
    }
}
