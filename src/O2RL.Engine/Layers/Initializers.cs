using MathNet.Numerics.LinearAlgebra;

namespace O2RL.Engine;

/// <summary>How a Linear layer's weights are drawn (ALGORITHMS.md §2.1).</summary>
public enum InitScheme
{
    /// <summary>PyTorch's nn.Linear default: weight and bias uniform in ±1/√fan_in.</summary>
    PyTorchDefault,
    /// <summary>Orthogonal weight (QR of a standard-normal matrix, sign-corrected) times a gain; zero bias.</summary>
    Orthogonal,
    /// <summary>Xavier-uniform weight, bound gain·√(6/(fan_in + fan_out)); zero bias.</summary>
    XavierUniform,
}

/// <summary>Initialisation of one Linear layer.</summary>
public readonly record struct LayerInit(InitScheme Scheme, float Gain = 1f)
{
    /// <summary>PyTorch's default.</summary>
    public static LayerInit Default => new(InitScheme.PyTorchDefault);
}

/// <summary>Weight initialisers on the host (set-up time only), written into a layer's device views.</summary>
public static class Initializers
{
    /// <summary>Initialises every member of a Linear layer independently.</summary>
    public static void Apply(Linear layer, LayerInit init, HostRandom random)
    {
        int weightLength = layer.OutDim * layer.InDim;
        var weights = new float[layer.Members * weightLength];
        var biases = new float[layer.Members * layer.OutDim];
        for (int member = 0; member < layer.Members; member++)
        {
            var w = weights.AsSpan(member * weightLength, weightLength);
            var b = biases.AsSpan(member * layer.OutDim, layer.OutDim);
            switch (init.Scheme)
            {
                case InitScheme.PyTorchDefault:
                {
                    float bound = 1f / MathF.Sqrt(layer.InDim);
                    for (int i = 0; i < w.Length; i++) w[i] = random.Uniform(-bound, bound);
                    for (int i = 0; i < b.Length; i++) b[i] = random.Uniform(-bound, bound);
                    break;
                }
                case InitScheme.Orthogonal:
                    Orthogonal(layer.OutDim, layer.InDim, init.Gain, random, w);
                    break;
                case InitScheme.XavierUniform:
                {
                    float bound = init.Gain * MathF.Sqrt(6f / (layer.InDim + layer.OutDim));
                    for (int i = 0; i < w.Length; i++) w[i] = random.Uniform(-bound, bound);
                    break;
                }
            }
        }
        layer.Weight.Backend.Upload(weights, layer.Weight);
        layer.Bias.Backend.Upload(biases, layer.Bias);
    }

    /// <summary>
    /// An orthogonal [rows, cols] matrix times a gain, as PyTorch's orthogonal_: QR of a standard-normal matrix
    /// (of its transpose when rows &lt; cols), columns of Q multiplied by sign(diag R) so the result is uniformly
    /// distributed over orthogonal matrices.
    /// </summary>
    public static void Orthogonal(int rows, int cols, float gain, HostRandom random, Span<float> destination)
    {
        bool transpose = rows < cols;
        int r = transpose ? cols : rows, c = transpose ? rows : cols;
        var normal = Matrix<double>.Build.Dense(r, c);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                normal[i, j] = random.NormalDouble();
        var qr = normal.QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin);
        var q = qr.Q;
        for (int j = 0; j < c; j++)
        {
            double sign = Math.Sign(qr.R[j, j]);
            if (sign == 0) sign = 1;
            for (int i = 0; i < r; i++) q[i, j] *= sign;
        }
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                destination[i * cols + j] = (float)(gain * (transpose ? q[j, i] : q[i, j]));
    }
}
