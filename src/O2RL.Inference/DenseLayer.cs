using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace O2RL.Inference;

/// <summary>What follows a Linear layer (after its LayerNorm, when it has one).</summary>
public enum LayerActivation
{
    /// <summary>None (the output of a Gaussian-head body).</summary>
    Identity,
    /// <summary>max(0, x): the hidden layers of every actor we read.</summary>
    Relu,
    /// <summary>tanh(x): the output of the deterministic and Gaussian actors.</summary>
    Tanh,
}

/// <summary>
/// One Linear layer y = W x + b, W: [outDim, inDim] (PyTorch's layout), optionally followed by LayerNorm over the
/// outDim features (ε = 1e-5, gain γ and bias β) and then an activation. Immutable after construction.
/// </summary>
/// <remarks>
/// For speed the weights are also kept transposed and zero-padded, Wᵀ: [inDim, paddedOut] with paddedOut a multiple
/// of 32, so the forward pass broadcasts one input value and multiply-adds it into 8-wide vectors of consecutive
/// outputs: every weight is loaded once per block of rows, and the padded columns compute zeros that nobody reads.
/// </remarks>
public sealed class DenseLayer
{
    /// <summary>LayerNorm's ε (PyTorch's default, used by every LayerNorm in ALGORITHMS.md §2.1).</summary>
    public const float LayerNormEpsilon = 1e-5f;
    /// <summary>Output columns are padded to a multiple of this (four 8-wide vectors).</summary>
    internal const int ColumnBlock = 32;

    readonly float[] transposed;
    readonly float[] paddedBias;

    /// <summary>Builds the layer; <paramref name="weight"/> is [outDim, inDim] row-major, <paramref name="bias"/> [outDim].</summary>
    public DenseLayer(int inDim, int outDim, float[] weight, float[] bias, float[]? layerNormGain, float[]? layerNormBias, LayerActivation activation)
    {
        if (inDim < 1 || outDim < 1) throw new ArgumentException($"a layer needs positive sizes, got in {inDim}, out {outDim}");
        if (weight.Length != inDim * outDim) throw new ArgumentException($"weight has {weight.Length} values, expected {outDim}×{inDim}");
        if (bias.Length != outDim) throw new ArgumentException($"bias has {bias.Length} values, expected {outDim}");
        if ((layerNormGain is null) != (layerNormBias is null)) throw new ArgumentException("LayerNorm needs both its gain and its bias");
        if (layerNormGain is not null && (layerNormGain.Length != outDim || layerNormBias!.Length != outDim))
            throw new ArgumentException($"LayerNorm gain/bias have {layerNormGain.Length}/{layerNormBias!.Length} values, expected {outDim}");
        InDim = inDim; OutDim = outDim; Weight = weight; Bias = bias;
        LayerNormGain = layerNormGain; LayerNormBias = layerNormBias; Activation = activation;
        PaddedOut = (outDim + ColumnBlock - 1) / ColumnBlock * ColumnBlock;
        transposed = new float[inDim * PaddedOut];
        for (int o = 0; o < outDim; o++)
            for (int i = 0; i < inDim; i++) transposed[i * PaddedOut + o] = weight[o * inDim + i];
        paddedBias = new float[PaddedOut];
        bias.CopyTo(paddedBias, 0);
    }

    /// <summary>Input features.</summary>
    public int InDim { get; }
    /// <summary>Output features.</summary>
    public int OutDim { get; }
    /// <summary>OutDim rounded up to a multiple of 32 (the row stride of the transposed weights).</summary>
    public int PaddedOut { get; }
    /// <summary>W: [OutDim, InDim], as stored in the file.</summary>
    public float[] Weight { get; }
    /// <summary>b: [OutDim].</summary>
    public float[] Bias { get; }
    /// <summary>LayerNorm γ: [OutDim], or null without LayerNorm.</summary>
    public float[]? LayerNormGain { get; }
    /// <summary>LayerNorm β: [OutDim], or null without LayerNorm.</summary>
    public float[]? LayerNormBias { get; }
    /// <summary>Activation after the (normalised) output.</summary>
    public LayerActivation Activation { get; }

    /// <summary>
    /// y[r, :] = act(LN(W x[r, :] + b)) for <paramref name="rows"/> rows (1 to 4). x: [rows, stride] (the first InDim
    /// columns are read), y: [rows, stride] (the first PaddedOut columns are written; columns past OutDim are 0).
    /// </summary>
    /// <remarks>
    /// The kernels are compiled fully optimised on first use (no tier-0 code, whose 256-bit vector operations are
    /// calls, tens of times slower): a deployed policy's first actions should be as fast as its thousandth, and on a
    /// busy machine the tier-up can be delayed for a long time.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int stride)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            if (rows == 4) Forward4(x, y, stride);
            else for (int r = 0; r < rows; r++) Forward1(x.Slice(r * stride, InDim), y.Slice(r * stride, PaddedOut));
        }
        else
        {
            for (int r = 0; r < rows; r++) ForwardScalar(x.Slice(r * stride, InDim), y.Slice(r * stride, PaddedOut));
        }
        for (int r = 0; r < rows; r++) Epilogue(y.Slice(r * stride, OutDim));
    }

    /// <summary>a·b + c, one rounding where the CPU has FMA.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <summary>
    /// One row: 64 outputs at a time in eight accumulators, so consecutive FMAs do not wait on each other's latency,
    /// then a last block of 32 in four. Each output is summed as bias, then k = 0, 1, … in order — the order of
    /// <see cref="Forward4"/> and <see cref="ForwardScalar"/>, so an observation gets the same action bits alone, at
    /// any position in a batch, and on CPUs without 256-bit vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Forward1(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float w = ref MemoryMarshal.GetArrayDataReference(transposed);
        ref float b = ref MemoryMarshal.GetArrayDataReference(paddedBias);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int stride = PaddedOut, inDim = InDim, j = 0;
        for (; j + 2 * ColumnBlock <= stride; j += 2 * ColumnBlock)
        {
            var a0 = Vector256.LoadUnsafe(ref b, (nuint)j);
            var a1 = Vector256.LoadUnsafe(ref b, (nuint)(j + 8));
            var a2 = Vector256.LoadUnsafe(ref b, (nuint)(j + 16));
            var a3 = Vector256.LoadUnsafe(ref b, (nuint)(j + 24));
            var a4 = Vector256.LoadUnsafe(ref b, (nuint)(j + 32));
            var a5 = Vector256.LoadUnsafe(ref b, (nuint)(j + 40));
            var a6 = Vector256.LoadUnsafe(ref b, (nuint)(j + 48));
            var a7 = Vector256.LoadUnsafe(ref b, (nuint)(j + 56));
            for (int k = 0; k < inDim; k++)
            {
                var xk = Vector256.Create(Unsafe.Add(ref xs, k));
                nuint row = (nuint)(k * stride + j);
                a0 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row), xk, a0);
                a1 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 8), xk, a1);
                a2 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 16), xk, a2);
                a3 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 24), xk, a3);
                a4 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 32), xk, a4);
                a5 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 40), xk, a5);
                a6 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 48), xk, a6);
                a7 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 56), xk, a7);
            }
            a0.StoreUnsafe(ref ys, (nuint)j); a1.StoreUnsafe(ref ys, (nuint)(j + 8));
            a2.StoreUnsafe(ref ys, (nuint)(j + 16)); a3.StoreUnsafe(ref ys, (nuint)(j + 24));
            a4.StoreUnsafe(ref ys, (nuint)(j + 32)); a5.StoreUnsafe(ref ys, (nuint)(j + 40));
            a6.StoreUnsafe(ref ys, (nuint)(j + 48)); a7.StoreUnsafe(ref ys, (nuint)(j + 56));
        }
        if (j < stride)
        {
            var a0 = Vector256.LoadUnsafe(ref b, (nuint)j);
            var a1 = Vector256.LoadUnsafe(ref b, (nuint)(j + 8));
            var a2 = Vector256.LoadUnsafe(ref b, (nuint)(j + 16));
            var a3 = Vector256.LoadUnsafe(ref b, (nuint)(j + 24));
            for (int k = 0; k < inDim; k++)
            {
                var xk = Vector256.Create(Unsafe.Add(ref xs, k));
                nuint row = (nuint)(k * stride + j);
                a0 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row), xk, a0);
                a1 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 8), xk, a1);
                a2 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 16), xk, a2);
                a3 = MultiplyAdd(Vector256.LoadUnsafe(ref w, row + 24), xk, a3);
            }
            a0.StoreUnsafe(ref ys, (nuint)j); a1.StoreUnsafe(ref ys, (nuint)(j + 8));
            a2.StoreUnsafe(ref ys, (nuint)(j + 16)); a3.StoreUnsafe(ref ys, (nuint)(j + 24));
        }
    }

    /// <summary>Four rows, 16 outputs at a time: each weight vector loaded once serves four rows (8 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Forward4(ReadOnlySpan<float> x, Span<float> y, int rowStride)
    {
        ref float w = ref MemoryMarshal.GetArrayDataReference(transposed);
        ref float b = ref MemoryMarshal.GetArrayDataReference(paddedBias);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int stride = PaddedOut, inDim = InDim;
        for (int j = 0; j < stride; j += 16)
        {
            var b0 = Vector256.LoadUnsafe(ref b, (nuint)j);
            var b1 = Vector256.LoadUnsafe(ref b, (nuint)(j + 8));
            Vector256<float> r00 = b0, r01 = b1, r10 = b0, r11 = b1, r20 = b0, r21 = b1, r30 = b0, r31 = b1;
            for (int k = 0; k < inDim; k++)
            {
                nuint row = (nuint)(k * stride + j);
                var w0 = Vector256.LoadUnsafe(ref w, row);
                var w1 = Vector256.LoadUnsafe(ref w, row + 8);
                var x0 = Vector256.Create(Unsafe.Add(ref xs, k));
                var x1 = Vector256.Create(Unsafe.Add(ref xs, rowStride + k));
                var x2 = Vector256.Create(Unsafe.Add(ref xs, 2 * rowStride + k));
                var x3 = Vector256.Create(Unsafe.Add(ref xs, 3 * rowStride + k));
                r00 = MultiplyAdd(w0, x0, r00); r01 = MultiplyAdd(w1, x0, r01);
                r10 = MultiplyAdd(w0, x1, r10); r11 = MultiplyAdd(w1, x1, r11);
                r20 = MultiplyAdd(w0, x2, r20); r21 = MultiplyAdd(w1, x2, r21);
                r30 = MultiplyAdd(w0, x3, r30); r31 = MultiplyAdd(w1, x3, r31);
            }
            r00.StoreUnsafe(ref ys, (nuint)j); r01.StoreUnsafe(ref ys, (nuint)(j + 8));
            r10.StoreUnsafe(ref ys, (nuint)(rowStride + j)); r11.StoreUnsafe(ref ys, (nuint)(rowStride + j + 8));
            r20.StoreUnsafe(ref ys, (nuint)(2 * rowStride + j)); r21.StoreUnsafe(ref ys, (nuint)(2 * rowStride + j + 8));
            r30.StoreUnsafe(ref ys, (nuint)(3 * rowStride + j)); r31.StoreUnsafe(ref ys, (nuint)(3 * rowStride + j + 8));
        }
    }

    /// <summary>Plain loops for CPUs without 256-bit vectors, in the same summation order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ForwardScalar(ReadOnlySpan<float> x, Span<float> y)
    {
        y.Clear();
        for (int o = 0; o < OutDim; o++)
        {
            float sum = Bias[o];
            int row = o * InDim;
            for (int i = 0; i < InDim; i++) sum = MathF.FusedMultiplyAdd(Weight[row + i], x[i], sum);
            y[o] = sum;
        }
    }

    /// <summary>LayerNorm (when present) and the activation, on the OutDim real outputs of one row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Epilogue(Span<float> y)
    {
        if (LayerNormGain is not null)
        {
            // Two passes (mean, then centred variance) as PyTorch's LayerNorm: biased variance, ε inside the root.
            float mean = 0f;
            for (int i = 0; i < y.Length; i++) mean += y[i];
            mean /= y.Length;
            float variance = 0f;
            for (int i = 0; i < y.Length; i++) { float d = y[i] - mean; variance += d * d; }
            variance /= y.Length;
            float inverse = 1f / MathF.Sqrt(variance + LayerNormEpsilon);
            for (int i = 0; i < y.Length; i++) y[i] = (y[i] - mean) * inverse * LayerNormGain[i] + LayerNormBias![i];
        }
        switch (Activation)
        {
            case LayerActivation.Relu:
                if (Vector256.IsHardwareAccelerated)
                {
                    int i = 0;
                    ref float ys = ref MemoryMarshal.GetReference(y);
                    for (; i + 8 <= y.Length; i += 8)
                        Vector256.Max(Vector256.LoadUnsafe(ref ys, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref ys, (nuint)i);
                    for (; i < y.Length; i++) y[i] = MathF.Max(y[i], 0f);
                }
                else
                {
                    for (int i = 0; i < y.Length; i++) y[i] = MathF.Max(y[i], 0f);
                }
                break;
            case LayerActivation.Tanh:
                for (int i = 0; i < y.Length; i++) y[i] = MathF.Tanh(y[i]);
                break;
        }
    }
}
