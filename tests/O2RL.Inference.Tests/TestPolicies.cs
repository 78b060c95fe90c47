using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace O2RL.Inference.Tests;

/// <summary>A tensor to write in a test file: values as doubles, stored in <see cref="DType"/>.</summary>
public sealed record TestTensor(string Name, int[] Shape, double[] Values, string DType = "F32");

/// <summary>
/// Writes safetensors images by hand (independently of the reader under test, any dtype), builds PyTorch-named
/// actors with random weights, and computes their actions in double precision as the reference.
/// </summary>
public static class TestPolicies
{
    /// <summary>The safetensors bytes of <paramref name="tensors"/> with optional metadata.</summary>
    public static byte[] Write(IEnumerable<TestTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var json = new StringBuilder("{");
        var data = new MemoryStream();
        bool first = true;
        if (metadata is not null)
        {
            json.Append("\"__metadata__\":{").Append(string.Join(",", metadata.Select(kv => $"\"{kv.Key}\":\"{kv.Value}\""))).Append('}');
            first = false;
        }
        foreach (var t in tensors)
        {
            long begin = data.Position;
            foreach (double v in t.Values)
            {
                byte[] bytes = t.DType switch
                {
                    "F32" => BitConverter.GetBytes((float)v),
                    "F64" => BitConverter.GetBytes(v),
                    "F16" => BitConverter.GetBytes((Half)v),
                    "BF16" => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16)),
                    _ => throw new ArgumentException(t.DType),
                };
                data.Write(bytes);
            }
            if (!first) json.Append(',');
            first = false;
            json.Append(CultureInfo.InvariantCulture, $"\"{t.Name}\":{{\"dtype\":\"{t.DType}\",\"shape\":[{string.Join(",", t.Shape)}],\"data_offsets\":[{begin},{data.Position}]}}");
        }
        json.Append('}');
        byte[] header = Encoding.UTF8.GetBytes(json.ToString());
        var result = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)header.Length);
        header.CopyTo(result, 8);
        data.ToArray().CopyTo(result, 8 + header.Length);
        return result;
    }

    /// <summary>What a value becomes once stored in <paramref name="dtype"/> and read back as float32.</summary>
    public static double Stored(double v, string dtype) => dtype switch
    {
        "F16" => (double)(float)(Half)v,
        "BF16" => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits((float)v) & 0xFFFF0000u),
        _ => (float)v,
    };

    /// <summary>A Linear layer of a PyTorch-named test actor, values as stored.</summary>
    public sealed record Layer(int In, int Out, double[] Weight, double[] Bias, double[]? Gain, double[]? Beta);

    /// <summary>A test actor: its tensors with PyTorch names, and the same numbers for the reference.</summary>
    public sealed record Actor(List<TestTensor> Tensors, List<Layer> Layers, double Multiplier, double Offset, double[]? LogStd);

    /// <summary>
    /// Random actor with PyTorch nn.Sequential names under <paramref name="body"/> (Linear at 0, 2, 4 … or, with LayerNorm,
    /// Linear at 0, 3, 6 … and LayerNorm right after each hidden Linear).
    /// </summary>
    public static Actor Build(PolicyFamily family, int obsDim, int actionDim, int[] hidden, int seed, bool layerNorm = false, string prefix = "", string dtype = "F32", double outputScale = 1)
    {
        var random = new Random(seed);
        double U(double scale) => (2 * random.NextDouble() - 1) * scale;
        string body = family switch { PolicyFamily.TanhGaussian => "base_network", PolicyFamily.Gaussian => "net.net", _ => "net" };
        int outDim = family == PolicyFamily.TanhGaussian ? 2 * actionDim : actionDim;
        int[] widths = [obsDim, .. hidden, outDim];
        var tensors = new List<TestTensor>();
        var layers = new List<Layer>();
        int module = 0;
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            int fanIn = widths[i], fanOut = widths[i + 1];
            double scale = i + 2 == widths.Length ? outputScale : 1;
            double[] w = [.. Enumerable.Range(0, fanIn * fanOut).Select(_ => scale * U(1.5 / Math.Sqrt(fanIn)))];
            double[] b = [.. Enumerable.Range(0, fanOut).Select(_ => scale * U(0.2))];
            tensors.Add(new($"{prefix}{body}.{module}.weight", [fanOut, fanIn], w, dtype));
            tensors.Add(new($"{prefix}{body}.{module}.bias", [fanOut], b, dtype));
            double[]? gain = null, beta = null;
            bool hiddenLayer = i + 2 < widths.Length;
            if (layerNorm && hiddenLayer)
            {
                gain = [.. Enumerable.Range(0, fanOut).Select(_ => 1 + U(0.3))];
                beta = [.. Enumerable.Range(0, fanOut).Select(_ => U(0.3))];
                tensors.Add(new($"{prefix}{body}.{module + 1}.weight", [fanOut], gain, dtype));
                tensors.Add(new($"{prefix}{body}.{module + 1}.bias", [fanOut], beta, dtype));
                module += 3;
            }
            else module += 2;
            layers.Add(new(fanIn, fanOut, [.. w.Select(v => Stored(v, dtype))], [.. b.Select(v => Stored(v, dtype))],
                gain?.Select(v => Stored(v, dtype)).ToArray(), beta?.Select(v => Stored(v, dtype)).ToArray()));
        }
        double multiplier = 0, offset = 0;
        double[]? logStd = null;
        if (family == PolicyFamily.TanhGaussian)
        {
            multiplier = 0.8; offset = -0.7;
            tensors.Add(new($"{prefix}log_std_multiplier.constant", [], [multiplier], dtype));
            tensors.Add(new($"{prefix}log_std_offset.constant", [], [offset], dtype));
            multiplier = Stored(multiplier, dtype); offset = Stored(offset, dtype);
        }
        else if (family == PolicyFamily.Gaussian)
        {
            logStd = [.. Enumerable.Range(0, actionDim).Select(_ => U(0.25) - 2.25)];
            tensors.Add(new($"{prefix}log_std", [actionDim], logStd, dtype));
            logStd = [.. logStd.Select(v => Stored(v, dtype))];
        }
        return new Actor(tensors, layers, multiplier, offset, logStd);
    }

    /// <summary>The deterministic action in double precision (ALGORITHMS.md §2 and §8).</summary>
    public static double[] ReferenceAction(Actor actor, PolicyFamily family, ReadOnlySpan<float> observation, double[]? mean = null, double[]? std = null,
        double[]? low = null, double[]? high = null)
    {
        double[] x = new double[observation.Length];
        for (int j = 0; j < x.Length; j++) x[j] = mean is null ? observation[j] : (observation[j] - mean[j]) / std![j];
        for (int l = 0; l < actor.Layers.Count; l++)
        {
            var layer = actor.Layers[l];
            var y = new double[layer.Out];
            for (int o = 0; o < layer.Out; o++)
            {
                double sum = layer.Bias[o];
                for (int i = 0; i < layer.In; i++) sum += layer.Weight[o * layer.In + i] * x[i];
                y[o] = sum;
            }
            if (layer.Gain is not null)
            {
                double mu = y.Average(), variance = y.Select(v => (v - mu) * (v - mu)).Average();
                for (int o = 0; o < y.Length; o++) y[o] = (y[o] - mu) / Math.Sqrt(variance + 1e-5) * layer.Gain[o] + layer.Beta![o];
            }
            bool last = l == actor.Layers.Count - 1;
            for (int o = 0; o < y.Length; o++)
                y[o] = !last ? Math.Max(0, y[o]) : family == PolicyFamily.TanhGaussian ? y[o] : Math.Tanh(y[o]);
            x = y;
        }
        int d = family == PolicyFamily.TanhGaussian ? x.Length / 2 : x.Length;
        var action = new double[d];
        for (int j = 0; j < d; j++)
        {
            action[j] = family == PolicyFamily.TanhGaussian ? Math.Clamp(Math.Tanh(x[j]), -0.9999, 0.9999) : x[j];
            if (low is not null) action[j] = low[j] + (action[j] + 1) * 0.5 * (high![j] - low[j]);
        }
        return action;
    }

    /// <summary>Random observations [rows, obsDim] around a given scale.</summary>
    public static float[] Observations(int rows, int obsDim, int seed, double scale = 2.0)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, rows * obsDim).Select(_ => (float)((2 * random.NextDouble() - 1) * scale))];
    }

    /// <summary>A temporary file path that is deleted when disposed.</summary>
    public sealed class TempFile : IDisposable
    {
        /// <summary>The path.</summary>
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"o2rl-inference-{Guid.NewGuid():N}.safetensors");
        /// <inheritdoc/>
        public void Dispose() { try { File.Delete(Path); } catch (IOException) { } }
    }
}
