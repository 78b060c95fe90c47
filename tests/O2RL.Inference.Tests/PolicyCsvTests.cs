using Xunit;
using System.Globalization;

namespace O2RL.Inference.Tests;

/// <summary>Acting on observations given as CSV text.</summary>
public sealed class PolicyCsvTests
{
    static PolicyModel Model() => PolicyModel.Load(TestPolicies.Write(TestPolicies.Build(PolicyFamily.Gaussian, 3, 2, [8], seed: 2).Tensors), "csv");

    [Fact]
    public void OneActionRowPerObservationRowInOrder()
    {
        var model = Model();
        string input = "s0,s1,s2\n0.1,0.2,0.3\n\n# a comment\n-1 2\t0.5\n4e-1, -0.25 ,1\n";
        var output = new StringWriter();
        Assert.Equal(3, PolicyCsv.Act(model, new StringReader(input), output));
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        float[][] observations = [[0.1f, 0.2f, 0.3f], [-1f, 2f, 0.5f], [0.4f, -0.25f, 1f]];
        for (int r = 0; r < 3; r++)
        {
            float[] expected = model.Act(observations[r]);
            float[] written = [.. lines[r].Split(',').Select(t => float.Parse(t, CultureInfo.InvariantCulture))];
            Assert.Equal(expected, written);
        }
    }

    [Fact]
    public void StochasticOutputIsReproducibleWithTheSeed()
    {
        var model = Model();
        const string input = "0.1,0.2,0.3\n0.1,0.2,0.3\n";
        string Run(ulong seed)
        {
            var output = new StringWriter();
            PolicyCsv.Act(model, new StringReader(input), output, stochastic: true, seed);
            return output.ToString();
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
        string[] rows = Run(7).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual(rows[0], rows[1]); // one stream for the file, not one seed per row
    }

    [Theory]
    [InlineData("0.1,0.2,0.3\n0.1,0.2\n", "line 2: 2 values but the policy expects 3")]
    [InlineData("0.1,0.2,0.3\n0.1,abc,0.3\n", "line 2: value 2 ('abc') is not a number")]
    [InlineData("0.1,0.2,0.3\n\nx,y,z\n", "line 3: no numbers")]
    [InlineData("1,2,3,4\n", "line 1: 4 values")]
    [InlineData("0.1,0.2,0.3\n1,,3,4\n", "line 2: value 2 is empty")]   // was read as "1,3,4"
    [InlineData(",1,2,3\n", "line 1: value 1 is empty")]
    public void BadRowsNameTheirLine(string input, string expected)
    {
        var e = Assert.Throws<FormatException>(() => PolicyCsv.Act(Model(), new StringReader(input), new StringWriter()));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ATrailingCommaIsTolerated()
    {
        var plain = new StringWriter();
        var trailing = new StringWriter();
        PolicyCsv.Act(Model(), new StringReader("0.1,0.2,0.3\n"), plain);
        PolicyCsv.Act(Model(), new StringReader("0.1,0.2,0.3,\n"), trailing);
        Assert.Equal(plain.ToString(), trailing.ToString());
    }
}
