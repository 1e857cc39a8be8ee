using CanaryFlow.Analysis.Statistics;

namespace CanaryFlow.Analysis.Tests.Statistics;

// Reference values: SciPy's mannwhitneyu documentation example (males/females), R's wilcox.test
// documentation example, and hand-countable tiny samples.
public class MannWhitneyTests
{
    private static readonly double[] Males = [19, 22, 16, 29, 24];
    private static readonly double[] Females = [20, 11, 17, 12];

    [Fact]
    public void Scipy_example_gives_U_17_and_exact_p_one_ninth()
    {
        var r = MannWhitney.Test(Males, Females);
        Assert.Equal(17, r.U1);
        Assert.Equal(3, r.U2);
        Assert.True(r.Exact);
        Assert.Equal(1.0 / 9, r.PValue, 12);
    }

    [Fact]
    public void Scipy_example_normal_approximation_with_continuity_gives_p_0_11135()
    {
        var r = MannWhitney.Test(Males, Females, MannWhitney.Method.Asymptotic);
        Assert.False(r.Exact);
        Assert.Equal(0.11134688653314041, r.PValue, 10);
        Assert.Equal(1.5921683328090657, r.Z!.Value, 10);
    }

    [Fact]
    public void R_wilcox_example_gives_W_35_and_two_sided_exact_p_0_2544()
    {
        double[] x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
        double[] y = [1.15, 0.88, 0.90, 0.74, 1.21];
        var r = MannWhitney.Test(x, y);
        Assert.Equal(35, r.U1);
        Assert.Equal(0.2544122544122544, r.PValue, 12); // R prints one-sided 0.1272
    }

    [Fact]
    public void Ties_get_average_ranks_and_the_tie_corrected_variance()
    {
        // The three 2s share ranks 2..4 (3), the three 3s share 5..7 (6): x = 1,2,2,3,4 has ranks
        // 1, 3, 3, 6, 8, so R1 = 21 and U1 = 21 - 15 = 6.
        double[] x = [1, 2, 2, 3, 4];
        double[] y = [2, 3, 3, 5, 6, 7];
        var r = MannWhitney.Test(x, y);
        Assert.Equal(6, r.U1);
        Assert.Equal(24, r.U2);
        Assert.False(r.Exact); // ties force the normal approximation
        Assert.Equal(0.11390314458853065, r.PValue, 10);
    }

    [Theory]
    [InlineData(new double[] { 1 }, new double[] { 2 }, 1.0)]
    [InlineData(new double[] { 1, 2, 3 }, new double[] { 4, 5, 6 }, 0.1)] // 2 of C(6,3)=20 orderings as extreme
    [InlineData(new double[] { 1, 2, 3, 4 }, new double[] { 5, 6, 7, 8 }, 2.0 / 70)]
    public void Tiny_samples_use_the_exact_distribution(double[] x, double[] y, double expectedP)
    {
        var r = MannWhitney.Test(x, y);
        Assert.True(r.Exact);
        Assert.Equal(0, r.U1);
        Assert.Equal(expectedP, r.PValue, 12);
    }

    [Fact]
    public void Identical_samples_give_p_of_one()
    {
        var r = MannWhitney.Test([5, 5, 5, 5], [5, 5, 5]);
        Assert.Equal(1, r.PValue);
        Assert.Equal(6, r.U1);
    }

    [Fact]
    public void Large_clearly_shifted_samples_are_significant()
    {
        var x = Enumerable.Range(0, 1000).Select(i => (double)i).ToArray();
        var y = Enumerable.Range(0, 1000).Select(i => i + 100.5).ToArray();
        var r = MannWhitney.Test(x, y);
        Assert.False(r.Exact);
        Assert.True(r.PValue < 1e-6, $"p = {r.PValue}");
    }

    [Fact]
    public void Empty_or_NaN_samples_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => MannWhitney.Test([], [1.0]));
        Assert.Throws<ArgumentException>(() => MannWhitney.Test([double.NaN], [1.0]));
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(1.959963984540054, 0.05)]
    [InlineData(3.2905267314918945, 0.001)]
    [InlineData(6.0, 1.9731752900754024e-09)]
    public void Normal_two_sided_tail_matches_tables(double z, double p)
    {
        Assert.Equal(p, 2 * NormalDistribution.UpperTail(z), p * 1e-9);
    }
}
