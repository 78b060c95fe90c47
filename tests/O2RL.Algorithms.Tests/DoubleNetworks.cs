using O2RL.Engine;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// Independent double-precision forward passes of the networks under test, read from their parameter values by
/// name (PyTorch layout: weight [out, in], with a leading member axis for ensembles).
/// </summary>
internal static class DoubleNetworks
{
    /// <summary>All parameter values of a set, by entry name, as double arrays (member slices cut out).</summary>
    public static Dictionary<string, double[]> Read(ParameterSet parameters, float[]? values = null)
    {
        values ??= parameters.Values.ToArray();
        var map = new Dictionary<string, double[]>();
        foreach (var e in parameters.Entries)
            map[e.Name] = values.AsSpan(e.Offset, e.Length).ToArray().Select(v => (double)v).ToArray();
        return map;
    }

    /// <summary>
    /// y = MLP(x) for one member: Linear layers named {prefix}.{2i} (no LayerNorm), hidden activation, then the
    /// output activation. x: [inDim]; returns [outDim].
    /// </summary>
    public static double[] Forward(Dictionary<string, double[]> p, string prefix, int layerCount, double[] x,
        Func<double, double> hidden, Func<double, double> output, int member = 0, int members = 1)
    {
        var h = x;
        for (int layer = 0; layer < layerCount; layer++)
        {
            var w = p[$"{prefix}.{2 * layer}.weight"];
            var b = p[$"{prefix}.{2 * layer}.bias"];
            int outDim = b.Length / members, inDim = h.Length;
            var y = new double[outDim];
            for (int o = 0; o < outDim; o++)
            {
                double sum = b[member * outDim + o];
                for (int i = 0; i < inDim; i++) sum += w[member * outDim * inDim + o * inDim + i] * h[i];
                y[o] = layer == layerCount - 1 ? output(sum) : hidden(sum);
            }
            h = y;
        }
        return h;
    }

    public static double Relu(double x) => Math.Max(x, 0);
    public static double Identity(double x) => x;

    /// <summary>Gaussian log-density per coordinate with σ = exp(clamp(ψ)).</summary>
    public static double GaussianLogProb(double a, double mean, double logStd) =>
        -0.5 * Math.Pow((a - mean) / Math.Exp(logStd), 2) - logStd - 0.5 * Math.Log(2 * Math.PI);

    /// <summary>Row i of a row-major [rows, cols] array as doubles.</summary>
    public static double[] Row(float[] data, int i, int cols) => data.AsSpan(i * cols, cols).ToArray().Select(v => (double)v).ToArray();
}
