using O2RL.Engine;
using O2RL.Kernels;

namespace O2RL.Engine.Tests;

/// <summary>
/// An independent double-precision forward pass of an Mlp, read from its named parameters, used to check the
/// engine's float backward by central finite differences in double precision.
/// </summary>
internal static class DoubleReference
{
    public static double Activate(Activation activation, double x) => activation switch
    {
        Activation.Relu => Math.Max(x, 0),
        Activation.Tanh => Math.Tanh(x),
        _ => x,
    };

    /// <summary>Output [members, batch, outDim] (flattened) of the network described by spec with the given parameters.</summary>
    public static double[] MlpForward(MlpSpec spec, int members, Dictionary<string, double[]> p, double[] x, int batch, bool sharedInput)
    {
        var output = new List<double>();
        for (int e = 0; e < members; e++)
        {
            var h = new double[batch * spec.InDim];
            Array.Copy(x, sharedInput ? 0 : e * batch * spec.InDim, h, 0, batch * spec.InDim);
            int inDim = spec.InDim, module = 0;
            foreach (int hidden in spec.HiddenDims)
            {
                h = LinearForward(h, batch, inDim, hidden, p[$"{spec.NamePrefix}.{module}.weight"], p[$"{spec.NamePrefix}.{module}.bias"], e);
                module++;
                if (spec.LayerNorm)
                {
                    h = LayerNormForward(h, batch, hidden, p[$"{spec.NamePrefix}.{module}.weight"], p[$"{spec.NamePrefix}.{module}.bias"], e);
                    module++;
                }
                for (int i = 0; i < h.Length; i++) h[i] = Activate(spec.HiddenActivation, h[i]);
                module++;
                inDim = hidden;
            }
            h = LinearForward(h, batch, inDim, spec.OutDim, p[$"{spec.NamePrefix}.{module}.weight"], p[$"{spec.NamePrefix}.{module}.bias"], e);
            for (int i = 0; i < h.Length; i++) h[i] = Activate(spec.OutputActivation, h[i]);
            output.AddRange(h);
        }
        return [.. output];
    }

    public static double[] LinearForward(double[] x, int batch, int inDim, int outDim, double[] w, double[] b, int member = 0)
    {
        var y = new double[batch * outDim];
        int wOff = member * outDim * inDim, bOff = member * outDim;
        for (int r = 0; r < batch; r++)
            for (int o = 0; o < outDim; o++)
            {
                double s = b[bOff + o];
                for (int i = 0; i < inDim; i++) s += x[r * inDim + i] * w[wOff + o * inDim + i];
                y[r * outDim + o] = s;
            }
        return y;
    }

    public static double[] LayerNormForward(double[] x, int rows, int cols, double[] gamma, double[] beta, int member = 0, double eps = 1e-5)
    {
        var y = new double[x.Length];
        int g = member * cols;
        for (int r = 0; r < rows; r++)
        {
            double mu = 0, variance = 0;
            for (int c = 0; c < cols; c++) mu += x[r * cols + c];
            mu /= cols;
            for (int c = 0; c < cols; c++) variance += (x[r * cols + c] - mu) * (x[r * cols + c] - mu);
            variance /= cols;
            double rstd = 1 / Math.Sqrt(variance + eps);
            for (int c = 0; c < cols; c++) y[r * cols + c] = gamma[g + c] * (x[r * cols + c] - mu) * rstd + beta[g + c];
        }
        return y;
    }

    /// <summary>Central difference of a scalar function of a vector, coordinate i, in double.</summary>
    public static double CentralDifference(Func<double[], double> f, double[] point, int i, double h = 1e-6)
    {
        double saved = point[i];
        point[i] = saved + h; double plus = f(point);
        point[i] = saved - h; double minus = f(point);
        point[i] = saved;
        return (plus - minus) / (2 * h);
    }

    public static double Dot(double[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>Asserts |a − e| ≤ atol + rtol·|e| elementwise, naming the first failing index.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol, double atol, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            if (diff > atol + rtol * Math.Abs(expected[i]))
                Xunit.Assert.Fail($"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9} (|diff| {diff:G3})");
        }
    }
}
