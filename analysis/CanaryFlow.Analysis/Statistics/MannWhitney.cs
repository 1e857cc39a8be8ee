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

        // Sort values once with a flag saying which sample each came from; ranks follow from position.
        var values = new double[n];
        var fromFirst = new bool[n];
        first.CopyTo(values);
        second.CopyTo(values.AsSpan(n1));
        fromFirst.AsSpan(0, n1).Fill(true);
        if (method == Method.Exact && (long)n1 * n2 > 250_000)
            throw new ArgumentException("The exact distribution is for small samples (n1 * n2 <= 250000).");
        foreach (var v in values)
            if (double.IsNaN(v)) throw new ArgumentException("Samples must not contain NaN.");
        Array.Sort(values, fromFirst);

        double rankSumFirst = 0, tieTerm = 0;
        for (var i = 0; i < n;)
        {
            var j = i + 1;
            while (j < n && values[j] == values[i]) j++;
            var averageRank = (i + 1 + j) / 2.0; // ranks i+1..j share their mean
            var inFirst = 0;
            for (var k = i; k < j; k++) if (fromFirst[k]) inFirst++;
            rankSumFirst += averageRank * inFirst;
            double t = j - i;
            tieTerm += t * t * t - t;
            i = j;
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
