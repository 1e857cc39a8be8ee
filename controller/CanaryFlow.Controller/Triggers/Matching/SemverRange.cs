namespace CanaryFlow.Controller.Triggers.Matching;

/// <summary>
/// A small npm-style semver range: comparator sets joined by "||", each a space-separated AND of
/// comparators (&gt;=, &lt;=, &gt;, &lt;, =), with "^", "~", x-ranges ("1.2.x", "1.*", "*") and hyphen
/// ranges ("1.2.3 - 2.0.0"). As in npm, a prerelease version matches only a set that names a
/// prerelease of the same major.minor.patch, so "^1.2.0" never picks "1.3.0-rc.1" by surprise.
/// </summary>
public sealed class SemverRange
{
    private readonly IReadOnlyList<IReadOnlyList<Comparator>> _sets;

    private SemverRange(IReadOnlyList<IReadOnlyList<Comparator>> sets) => _sets = sets;

    private sealed record Comparator(string Op, SemVersion Version)
    {
        public bool Test(SemVersion v)
        {
            var c = v.CompareTo(Version);
            return Op switch { ">" => c > 0, ">=" => c >= 0, "<" => c < 0, "<=" => c <= 0, _ => c == 0 };
        }
    }

    /// <exception cref="FormatException">The range is not valid.</exception>
    public static SemverRange Parse(string range)
    {
        var sets = new List<IReadOnlyList<Comparator>>();
        foreach (var alternative in range.Split("||"))
        {
            var set = new List<Comparator>();
            var tokens = Tokenize(alternative);
            if (tokens.Count == 3 && tokens[1] == "-")
            {
                set.AddRange(Expand(">=", tokens[0]));
                set.AddRange(ExpandUpper(tokens[2]));
            }
            else
            {
                foreach (var token in tokens) set.AddRange(ParseComparator(token));
            }
            sets.Add(set);
        }
        return new SemverRange(sets);
    }

    public bool IsSatisfiedBy(SemVersion version) => _sets.Any(set =>
        set.All(c => c.Test(version))
        && (!version.IsPrerelease || set.Any(c => c.Version.IsPrerelease && c.Version.SameCore(version))));

    // Joins an operator written apart from its version (">= 1.2.0") into one token.
    private static List<string> Tokenize(string text)
    {
        var raw = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var tokens = new List<string>();
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] is ">" or ">=" or "<" or "<=" or "=" or "^" or "~" && i + 1 < raw.Length) tokens.Add(raw[i] + raw[++i]);
            else tokens.Add(raw[i]);
        }
        return tokens;
    }

    private static IEnumerable<Comparator> ParseComparator(string token)
    {
        foreach (var op in new[] { ">=", "<=", ">", "<", "=" })
            if (token.StartsWith(op, StringComparison.Ordinal))
                return op is "<=" ? ExpandUpper(token[op.Length..]) : op is "<" ? Strict("<", token[op.Length..]) : Expand(op, token[op.Length..]);
        if (token.StartsWith('^')) return Caret(token[1..]);
        if (token.StartsWith('~')) return Tilde(token[1..]);
        return Expand("=", token);
    }

    // A partial version: the given numbers, and how many were given (x, X and * are wildcards).
    private static (SemVersion Version, int Given) Partial(string text)
    {
        var t = text.Trim();
        if (t.Length > 0 && t[0] is 'v' or 'V') t = t[1..];
        if (t is "" or "*" or "x" or "X") return (new SemVersion(0, 0, 0, []), 0);
        var full = SemVersion.TryParse(t);
        if (full is not null) return (full, 3);
        var parts = t.Split('.');
        var numbers = new int[3];
        var given = 0;
        foreach (var part in parts)
        {
            if (part is "x" or "X" or "*") break;
            if (given >= 3 || !SemVersion.TryNumber(part, out numbers[given])) throw new FormatException($"'{text}' is not a version.");
            given++;
        }
        return (new SemVersion(numbers[0], numbers[1], numbers[2], []), given);
    }

    private static SemVersion Bump(SemVersion v, int given) => given switch
    {
        0 => new SemVersion(int.MaxValue, 0, 0, []),
        1 => new SemVersion(v.Major + 1, 0, 0, []),
        2 => new SemVersion(v.Major, v.Minor + 1, 0, []),
        _ => v,
    };

    // "=1.2" means 1.2.x; ">=1.2" means >=1.2.0; ">1.2" means >=1.3.0.
    private static IEnumerable<Comparator> Expand(string op, string text)
    {
        var (v, given) = Partial(text);
        if (given == 3) return [new Comparator(op, v)];
        return op switch
        {
            ">" => given == 0 ? [new Comparator("<", v)] : [new Comparator(">=", Bump(v, given))],
            ">=" => [new Comparator(">=", v)],
            _ => given == 0 ? [new Comparator(">=", v)] : [new Comparator(">=", v), new Comparator("<", Bump(v, given))],
        };
    }

    private static IEnumerable<Comparator> ExpandUpper(string text)
    {
        var (v, given) = Partial(text);
        return given == 3 ? [new Comparator("<=", v)] : given == 0 ? [new Comparator(">=", v)] : [new Comparator("<", Bump(v, given))];
    }

    private static IEnumerable<Comparator> Strict(string op, string text)
    {
        var (v, given) = Partial(text);
        return given == 0 ? [new Comparator("<", v)] : [new Comparator(op, v)];
    }

    private static IEnumerable<Comparator> Caret(string text)
    {
        var (v, given) = Partial(text);
        // ^ allows changes that keep the left-most non-zero part.
        var upper = v.Major > 0 || given <= 1 ? Bump(v, 1)
            : v.Minor > 0 || given == 2 ? Bump(v, 2)
            : new SemVersion(0, 0, v.Patch + 1, []);
        return [new Comparator(">=", v), new Comparator("<", upper)];
    }

    private static IEnumerable<Comparator> Tilde(string text)
    {
        var (v, given) = Partial(text);
        return [new Comparator(">=", v), new Comparator("<", Bump(v, given <= 1 ? 1 : 2))];
    }
}
