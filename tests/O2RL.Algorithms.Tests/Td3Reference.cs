using O2RL.Engine;

namespace O2RL.Algorithms.Tests;

/// <summary>
/// Independent double-precision forward passes of the TD3-family networks from their host weights (ReLU hidden
/// layers, no LayerNorm), and the TD3 formulas written out per sample, for checking the device losses.
/// </summary>
internal sealed class Td3Reference
{
    readonly List<(int[] Shape, float[] Data)> layers = [];

    /// <summary>Snapshot of a (single or ensemble) MLP: (weight, bias) pairs in order.</summary>
    public Td3Reference(ParameterSet parameters)
    {
        var all = parameters.Values.ToArray();
        foreach (var e in parameters.Entries) layers.Add((e.Shape, all.AsSpan(e.Offset, e.Length).ToArray()));
    }

    /// <summary>Output of ensemble member <paramref name="member"/> (0 for a single network) at input x.</summary>
    public double[] Forward(double[] x, int member = 0, bool tanhOutput = false)
    {
        int count = layers.Count / 2;
        var h = x;
        for (int l = 0; l < count; l++)
        {
            var (wShape, w) = layers[2 * l];
            var (_, b) = layers[2 * l + 1];
            int outDim = wShape[^2], inDim = wShape[^1];
            int wOffset = wShape.Length == 3 ? member * outDim * inDim : 0, bOffset = wShape.Length == 3 ? member * outDim : 0;
            if (h.Length != inDim) throw new ArgumentException($"layer {l} expects {inDim} inputs, got {h.Length}");
            var next = new double[outDim];
            for (int o = 0; o < outDim; o++)
            {
                double sum = b[bOffset + o];
                for (int i = 0; i < inDim; i++) sum += (double)w[wOffset + o * inDim + i] * h[i];
                next[o] = l < count - 1 ? Math.Max(sum, 0.0) : tanhOutput ? Math.Tanh(sum) : sum;
            }
            h = next;
        }
        return h;
    }

    public static double[] Row(float[] data, int row, int width) => [.. data.AsSpan(row * width, width).ToArray().Select(v => (double)v)];

    public static double[] Concat(double[] a, double[] b) => [.. a, .. b];

    /// <summary>y_i = r_i + γ(1 − m_i)·min_e Q̄_e(s′_i, clip(μ̄(s′_i) + clip(σε_i, −c, c), −1, 1)) in double.</summary>
    public static double[] Target(Td3Reference actorTarget, Td3Reference criticTarget, float[] nextObs, float[] rewards, float[] terminals,
        float[] epsilon, int obsDim, int actionDim, double gamma, double sigma, double clip)
    {
        int batch = rewards.Length;
        var y = new double[batch];
        for (int i = 0; i < batch; i++)
        {
            var s1 = Row(nextObs, i, obsDim);
            var mu = actorTarget.Forward(s1, tanhOutput: true);
            var a1 = new double[actionDim];
            for (int j = 0; j < actionDim; j++)
            {
                double xi = Math.Clamp(sigma * epsilon[i * actionDim + j], -clip, clip);
                a1[j] = Math.Clamp(mu[j] + xi, -1.0, 1.0);
            }
            var input = Concat(s1, a1);
            double q = Math.Min(criticTarget.Forward(input, 0)[0], criticTarget.Forward(input, 1)[0]);
            y[i] = rewards[i] + gamma * (1.0 - terminals[i]) * q;
        }
        return y;
    }

    /// <summary>Σ_e mean_i (Q_e(s_i, a_i) − y_i)².</summary>
    public static double CriticLoss(Td3Reference critic, float[] obs, float[] actions, double[] y, int obsDim, int actionDim)
    {
        double loss = 0;
        for (int e = 0; e < 2; e++)
        {
            double sum = 0;
            for (int i = 0; i < y.Length; i++)
            {
                double q = critic.Forward(Concat(Row(obs, i, obsDim), Row(actions, i, actionDim)), e)[0];
                sum += (q - y[i]) * (q - y[i]);
            }
            loss += sum / y.Length;
        }
        return loss;
    }

    /// <summary>−κ·mean Q_1(s, μ(s)) + w·mean (μ(s) − a)² with κ = α/mean|Q_1| (or 1 when α is null).</summary>
    public static double ActorLoss(Td3Reference actor, Td3Reference critic, float[] obs, float[]? anchor, int obsDim, int actionDim, double? alpha, double weight)
    {
        int batch = obs.Length / obsDim;
        double sumQ = 0, sumAbsQ = 0, sumSquares = 0;
        for (int i = 0; i < batch; i++)
        {
            var s = Row(obs, i, obsDim);
            var mu = actor.Forward(s, tanhOutput: true);
            double q = critic.Forward(Concat(s, mu), 0)[0];
            sumQ += q; sumAbsQ += Math.Abs(q);
            if (anchor is not null)
                for (int j = 0; j < actionDim; j++) sumSquares += Math.Pow(mu[j] - anchor[i * actionDim + j], 2);
        }
        double kappa = alpha is double a ? a / (sumAbsQ / batch) : 1.0;
        return -kappa * sumQ / batch + (anchor is null ? 0 : weight * sumSquares / (batch * actionDim));
    }
}
