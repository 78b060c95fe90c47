using O2RL.Algorithms.Online;
using O2RL.Data.Replay;
using O2RL.Engine;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// Independent double-precision forward computations of the tanh-Gaussian actor and the critics from their flat
/// parameter buffers, used to check the device losses (and, by central differences, their gradients).
/// </summary>
internal static class SoftActorCriticReference
{
    /// <summary>A network's parameters as doubles with its layout.</summary>
    public sealed record Net(double[] Values, IReadOnlyList<ParameterEntry> Entries, int Members)
    {
        public static Net Of(ParameterSet parameters, int members) => new([.. parameters.Values.ToArray().Select(v => (double)v)], parameters.Entries, members);
        public Net With(double[] values) => this with { Values = values };
        public double Scalar(string name) => Values[Entries.First(e => e.Name == name).Offset];
    }

    /// <summary>MLP forward (ReLU hidden, identity output) of one member: x [rows, in] → [rows, out].</summary>
    public static double[] Mlp(Net net, int member, double[] x, int rows)
    {
        int rank = net.Members == 1 ? 2 : 3;
        var linears = net.Entries.Select((e, i) => (e, i)).Where(p => p.e.Name.EndsWith(".weight", StringComparison.Ordinal) && p.e.Shape.Length == rank).ToList();
        double[] h = x;
        for (int l = 0; l < linears.Count; l++)
        {
            var w = linears[l].e;
            var bias = net.Entries[linears[l].i + 1];
            int outDim = w.Shape[^2], inDim = w.Shape[^1];
            int wOff = w.Offset + member * outDim * inDim, bOff = bias.Offset + member * outDim;
            var y = new double[rows * outDim];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < outDim; o++)
                {
                    double s = net.Values[bOff + o];
                    for (int i = 0; i < inDim; i++) s += net.Values[wOff + o * inDim + i] * h[r * inDim + i];
                    y[r * outDim + o] = l < linears.Count - 1 ? Math.Max(s, 0) : s;
                }
            h = y;
        }
        return h;
    }

    /// <summary>Q_e(s, a) for every member: [E][rows].</summary>
    public static double[][] Q(Net critic, double[] s, double[] a, int rows, int obsDim, int actionDim)
    {
        var x = new double[rows * (obsDim + actionDim)];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < obsDim; j++) x[r * (obsDim + actionDim) + j] = s[r * obsDim + j];
            for (int j = 0; j < actionDim; j++) x[r * (obsDim + actionDim) + obsDim + j] = a[r * actionDim + j];
        }
        return [.. Enumerable.Range(0, critic.Members).Select(e => Mlp(critic, e, x, rows))];
    }

    public static double[] Min(double[][] q) => [.. Enumerable.Range(0, q[0].Length).Select(i => q.Min(m => m[i]))];

    static double Softplus(double x) => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));

    /// <summary>Reparameterised sample a = tanh(μ + σε) and log π(a|s): ([rows·d], [rows]).</summary>
    public static (double[] Action, double[] LogProb) Sample(Net actor, double[] s, int rows, int actionDim, float[] noise)
    {
        var head = Mlp(actor, 0, s, rows);
        double m = actor.Scalar("log_std_multiplier.constant"), o = actor.Scalar("log_std_offset.constant");
        var action = new double[rows * actionDim];
        var logProb = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < actionDim; j++)
            {
                double mu = head[r * 2 * actionDim + j], rho = head[r * 2 * actionDim + actionDim + j];
                double logStd = Math.Clamp(m * rho + o, -20, 2);
                double eps = noise[r * actionDim + j];
                double u = mu + Math.Exp(logStd) * eps;
                action[r * actionDim + j] = Math.Tanh(u);
                logProb[r] += -0.5 * eps * eps - logStd - 0.5 * Math.Log(2 * Math.PI) - 2 * (Math.Log(2) - u - Softplus(-2 * u));
            }
        return (action, logProb);
    }

    /// <summary>Host copy of standard normal draws of a Philox stream position.</summary>
    public static float[] Normal(Backend backend, ulong seed, ulong counter, int length)
    {
        var t = backend.Allocate(length);
        backend.RandomNormal(t, seed, counter);
        return t.ToArray();
    }

    /// <summary>Host copy of uniform draws of a Philox stream position.</summary>
    public static float[] Uniform(Backend backend, ulong seed, ulong counter, int length, float low, float high)
    {
        var t = backend.Allocate(length);
        backend.RandomUniform(t, seed, counter, low, high);
        return t.ToArray();
    }

    /// <summary>A device batch from host rows (terminal flags m per row).</summary>
    public static TransitionBatch Batch(Backend backend, float[] s, float[] a, float[] r, float[] s2, float[] m, int obsDim, int actionDim)
    {
        int rows = r.Length;
        var batch = new TransitionBatch(backend, rows, obsDim, actionDim);
        var packed = new float[rows * batch.Layout.Width];
        for (int i = 0; i < rows; i++)
            batch.Layout.Pack(packed.AsSpan(i * batch.Layout.Width, batch.Layout.Width), s.AsSpan(i * obsDim, obsDim), a.AsSpan(i * actionDim, actionDim), r[i], s2.AsSpan(i * obsDim, obsDim), m[i]);
        backend.Upload(packed, batch.Packed);
        batch.Unpack();
        return batch;
    }

    public static double[] D(float[] x) => [.. x.Select(v => (double)v)];

    /// <summary>Every named entry of a parameter set as host arrays.</summary>
    public static Dictionary<string, float[]> Snapshot(ParameterSet parameters) =>
        parameters.Entries.ToDictionary(e => e.Name, e => parameters.Read(e.Name));

    /// <summary>A learner with small networks.</summary>
    public static SoftActorCriticOptions Tiny(bool layerNorm = false) => new()
    {
        ActorHidden = [5, 4],
        CriticHidden = [6, 5],
        CriticLayerNorm = layerNorm,
    };
}
