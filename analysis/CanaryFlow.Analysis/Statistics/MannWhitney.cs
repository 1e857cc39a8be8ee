namespace CanaryFlow.Analysis.Statistics;

/// <param name="U1">U statistic of the first sample (pairs where it is larger, ties count one half).</param>
/// <param name="U2">U statistic of the second sample; U1 + U2 = n1 * n2.</param>
/// <param name="PValue">Two-sided p-value.</param>
/// <param name="Z">Normal deviate (with continuity correction) when the approximation was used, else null.</param>
/// <param name="Exact">True when the p-value comes from the exact distribution of U.</param>
public sealed record MannWhitneyResult(double U1, double U2, double PValue, double? Z, bool Exact)
{
    /// <summary>The smaller of U1 and U2, as textbook tables print it.</summary>
    public double U => Math.Min(U1, U2);
}

/// <summary>
/// Two-sided Mann-Whitney U (Wilcoxon rank-sum) test. Exact distribution for small samples without
/// ties; otherwise the normal approximation with tie correction and continuity correction (the
/// same choices as R's wilcox.test and SciPy's mannwhitneyu).
/// </summary>
public static class MannWhitney
{
    public enum Method { Auto, Exact, Asymptotic }

    /// <summary>Samples whose sizes add up to at most this, without ties, get the exact p-value.</summary>
    public const int ExactLimit = 50;

    /// <param name="method">Auto: exact when there are no ties and n1 + n2 &lt;= <see cref="ExactLimit"/>.
    /// Exact ignores ties (the exact null distribution assumes none).</param>
    public static MannWhitneyResult Test(ReadOnlySpan<double> first, ReadOnlySpan<double> second, Method method = Method.Auto)
    {
        int n1 = first.Length, n2 = second.Length;
        if (n1 == 0 || n2 == 0) throw new ArgumentException("Both samples need at least one value.");
        var n = n1 + n2;

        if (method == Method.Exact && (long)n1 * n2 > 250_000)
            throw new ArgumentException("The exact distribution is for small samples (n1 * n2 <= 250000).");
        var a = Checked(first);
        var b = Checked(second);
        // The two sorts are most of the cost and independent: for large samples, sort them side by side.
        if (n >= 8192) Parallel.Invoke(() => Array.Sort(a), () => Array.Sort(b));
        else { Array.Sort(a); Array.Sort(b); }

        // Walk both sorted samples at once; each run of equal values (a tie group across both
        // samples) shares the mean of the ranks it covers. Two sorts and a merge beat sorting the
        // pooled values with a sample flag attached, which matters at 10,000 samples a side.
        double rankSumFirst = 0, tieTerm = 0;
        int i = 0, j = 0, position = 0;
        while (i < n1 || j < n2)
        {
            var v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
            var inFirst = 0;
            while (i < n1 && a[i] == v) { i++; inFirst++; }
            var inSecond = 0;
            while (j < n2 && b[j] == v) { j++; inSecond++; }
            double t = inFirst + inSecond;
            rankSumFirst += (position + (t + 1) / 2) * inFirst;
            tieTerm += t * t * t - t;
            position += (int)t;
        }

        var u1 = rankSumFirst - n1 * (n1 + 1) / 2.0;
        var u2 = (double)n1 * n2 - u1;
        var big = Math.Max(u1, u2);

        if (method == Method.Exact || (method == Method.Auto && tieTerm == 0 && n <= ExactLimit))
            return new MannWhitneyResult(u1, u2, Math.Min(1, 2 * ExactUpperTail(n1, n2, (int)big)), null, true);

        var mean = n1 * (double)n2 / 2;
        var variance = n1 * (double)n2 / 12 * (n + 1 - tieTerm / ((double)n * (n - 1)));
        if (variance <= 0) return new MannWhitneyResult(u1, u2, 1, 0, false); // every value equal
        var z = (big - mean - 0.5) / Math.Sqrt(variance);
        var p = Math.Min(1, 2 * NormalDistribution.UpperTail(z));
        return new MannWhitneyResult(u1, u2, p, z, false);
    }

    private static double[] Checked(ReadOnlySpan<double> sample)
    {
        var copy = sample.ToArray();
        foreach (var v in copy)
            if (double.IsNaN(v)) throw new ArgumentException("Samples must not contain NaN.");
        return copy;
    }

    /// <summary>P(U &gt;= u) under the null hypothesis, from the exact distribution.</summary>
    public static double ExactUpperTail(int n1, int n2, int u)
    {
        var counts = ExactCounts(n1, n2);
        double total = 0, tail = 0;
        for (var k = 0; k < counts.Length; k++)
        {
            total += counts[k];
            if (k >= u) tail += counts[k];
        }
        return tail / total;
    }

    // The number of orderings giving each U is the coefficient of q^U in the Gaussian binomial
    // [n1+n2 choose n1]_q = prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i).
    private static double[] ExactCounts(int n1, int n2)
    {
        var max = n1 * n2;
        var c = new double[max + 1];
        c[0] = 1;
        for (var i = 1; i <= n1; i++)
        {
            var m = n2 + i;
            for (var k = max; k >= m; k--) c[k] -= c[k - m]; // multiply by (1 - q^m)
            for (var k = i; k <= max; k++) c[k] += c[k - i]; // divide by (1 - q^i)
        }
        return c;
    }
}
