namespace CanaryFlow.Analysis.Statistics;

/// <summary>
/// Standard normal tail probabilities. .NET has no erf/erfc, so this computes erfc directly:
/// a power series for small arguments and a continued fraction for the tail, which keeps small
/// p-values accurate (1 - erf would lose them to cancellation).
/// </summary>
public static class NormalDistribution
{
    /// <summary>P(Z &gt; z) for a standard normal Z.</summary>
    public static double UpperTail(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>Complementary error function, relative error about 1e-13 over the whole line.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2.5) return 1 - ErfSeries(x);
        if (x > 27) return 0;
        return ErfcContinuedFraction(x);
    }

    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)); converges quickly for x < 2.5.
    private static double ErfSeries(double x)
    {
        double x2 = x * x, term = x, sum = x;
        for (var n = 1; n < 200; n++)
        {
            term *= -x2 / n;
            var add = term / (2 * n + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated with
    // the modified Lentz method.
    private static double ErfcContinuedFraction(double x)
    {
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (var k = 1; k < 500; k++)
        {
            var a = k / 2.0;
            d = x + a * d;
            d = Math.Abs(d) < tiny ? 1 / tiny : 1 / d;
            c = x + a / c;
            if (Math.Abs(c) < tiny) c = tiny;
            var delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}
