using System.Globalization;

namespace CanaryFlow.Controller.Triggers.Matching;

/// <summary>A Semantic Versioning 2.0 version; a leading "v" (as in image tags "v1.2.3") is accepted. Build metadata is ignored for ordering.</summary>
public sealed record SemVersion(int Major, int Minor, int Patch, IReadOnlyList<string> Prerelease) : IComparable<SemVersion>
{
    public bool IsPrerelease => Prerelease.Count > 0;

    public static SemVersion? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var s = text.Trim();
        if (s[0] is 'v' or 'V') s = s[1..];
        var plus = s.IndexOf('+');
        if (plus >= 0) s = s[..plus];
        var dash = s.IndexOf('-');
        var pre = dash >= 0 ? s[(dash + 1)..].Split('.') : [];
        if (dash >= 0) s = s[..dash];
        if (pre.Any(p => p.Length == 0)) return null;
        var parts = s.Split('.');
        if (parts.Length != 3) return null;
        var numbers = new int[3];
        for (var i = 0; i < 3; i++)
            if (!TryNumber(parts[i], out numbers[i])) return null;
        return new SemVersion(numbers[0], numbers[1], numbers[2], pre);
    }

    internal static bool TryNumber(string part, out int value) =>
        int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out value) && (part.Length == 1 || part[0] != '0');

    public int CompareTo(SemVersion? other)
    {
        if (other is null) return 1;
        var c = Major.CompareTo(other.Major);
        if (c == 0) c = Minor.CompareTo(other.Minor);
        if (c == 0) c = Patch.CompareTo(other.Patch);
        return c != 0 ? c : ComparePrerelease(Prerelease, other.Prerelease);
    }

    // SemVer §11: a version without prerelease ranks higher; identifiers compare numerically when both are numbers.
    private static int ComparePrerelease(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        if (a.Count == 0 || b.Count == 0) return b.Count.CompareTo(a.Count);
        for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            var an = int.TryParse(a[i], NumberStyles.None, CultureInfo.InvariantCulture, out var ai);
            var bn = int.TryParse(b[i], NumberStyles.None, CultureInfo.InvariantCulture, out var bi);
            var c = an && bn ? ai.CompareTo(bi) : an ? -1 : bn ? 1 : string.CompareOrdinal(a[i], b[i]);
            if (c != 0) return c;
        }
        return a.Count.CompareTo(b.Count);
    }

    public bool SameCore(SemVersion other) => Major == other.Major && Minor == other.Minor && Patch == other.Patch;

    public override string ToString() => $"{Major}.{Minor}.{Patch}" + (IsPrerelease ? "-" + string.Join('.', Prerelease) : "");
}
