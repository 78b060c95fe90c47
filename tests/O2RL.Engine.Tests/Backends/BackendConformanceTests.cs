using O2RL.Kernels;
using Xunit;

namespace O2RL.Engine.Tests.Backends;

/// <summary>
/// Every <see cref="Backend"/> op checked against the <c>Reference.cs</c> kernels over awkward shapes (1, 3, 17,
/// 255, 257), all GEMM transposes, α/β, broadcasts, in-place use and validation errors. One concrete subclass per
/// backend supplies the backend; a subclass for an absent device skips with the reason.
/// </summary>
public abstract class BackendConformanceTests : IDisposable
{
    Backend? backend;

    /// <summary>The backend under test (may call <see cref="Assert.Skip(string)"/> when its device is absent).</summary>
    protected abstract Backend CreateBackend();

    /// <summary>False when <see cref="CreateBackend"/> hands out a backend shared by the whole class (not disposed per test).</summary>
    protected virtual bool OwnsBackend => true;

    /// <summary>Largest GEMM dimension tried; slow simulators lower it. Larger shapes are clamped to it.</summary>
    protected virtual int MaxGemmDim => 257;

    /// <summary>Largest row count tried by the row-wise ops (LayerNorm, reductions); slow simulators lower it.</summary>
    protected virtual int MaxRows => 257;

    protected Backend Device => backend ??= CreateBackend();

    public void Dispose()
    {
        if (OwnsBackend) backend?.Dispose();
        GC.SuppressFinalize(this);
    }

    // ───────────────────────────── helpers ─────────────────────────────

    protected static float[] RandomValues(int count, int seed, float low = -1f, float high = 1f)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = low + (high - low) * random.NextSingle();
        return values;
    }

    protected Tensor Upload(float[] values, params int[] shape) => Device.FromArray(values, shape);

    protected static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float relative, float absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a) || e == a) continue;
            float tolerance = absolute + relative * MathF.Abs(e);
            if (!(MathF.Abs(e - a) <= tolerance))
                Assert.Fail($"{what}: element {i} of {expected.Length} is {a:R}, expected {e:R} (tolerance {tolerance:G3})");
        }
    }

    protected static void AssertBitwiseEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected exactly {expected[i]:R}");
    }

    int Clamp(int dimension) => Math.Min(dimension, MaxGemmDim);

    int ClampRows(int rows) => Math.Min(rows, MaxRows);

    // ───────────────────────────── memory ─────────────────────────────

    [Fact]
    public void AllocateIsZeroAndUploadDownloadRoundTripsThroughViews()
    {
        var t = Device.Allocate(5, 17);
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        var values = RandomValues(85, 1);
        Device.Upload(values, t);
        Assert.Equal(values, t.ToArray());
        var rows = t.SliceRows(2, 3);
        Assert.Equal(values.AsSpan(34, 51).ToArray(), rows.ToArray());
        Device.Upload(new float[] { 7f, 8f }, t.Slice(83, 2));
        Assert.Equal(7f, Device.ReadScalar(t, 83));
        Assert.Equal(8f, Device.ReadScalar(t, 84));
        Assert.Equal(values[82], Device.ReadScalar(t, 82));
    }

    [Fact]
    public void IndicesRoundTrip()
    {
        var indices = Device.AllocateIndices(17);
        var values = Enumerable.Range(0, 17).Select(i => i * 3 - 5).ToArray();
        Device.UploadIndices(values, indices);
        Assert.Equal(values, indices.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(257)]
    public void FillAndCopy(int length)
    {
        var t = Device.Allocate(length);
        Device.Fill(t, 2.5f);
        Assert.All(t.ToArray(), v => Assert.Equal(2.5f, v));
        Device.Fill(t, 0f);
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        var source = Upload(RandomValues(length, length));
        Device.Copy(source, t);
        Assert.Equal(source.ToArray(), t.ToArray());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(-3)]
    [InlineData(40)]
    public void CopyBetweenOverlappingViewsActsAsMemmove(int shift)
    {
        var values = RandomValues(100, 5);
        var t = Upload(values);
        int length = 50, from = 10;
        Device.Copy(t.Slice(from, length), t.Slice(from + shift, length));
        var expected = (float[])values.Clone();
        Array.Copy(values, from, expected, from + shift, length);
        Assert.Equal(expected, t.ToArray());
    }

    // ───────────────────────────── GEMM ─────────────────────────────

    public static TheoryData<int, int, int, bool, bool> GemmShapes()
    {
        var data = new TheoryData<int, int, int, bool, bool>();
        int[][] shapes = [[1, 1, 1], [3, 17, 5], [17, 3, 255], [1, 257, 17], [257, 1, 3], [64, 64, 64], [255, 257, 33], [33, 17, 257]];
        foreach (var s in shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    data.Add(s[0], s[1], s[2], ta, tb);
        return data;
    }

    static void ReferenceBatchedGemm(int batch, int m, int n, int k, bool ta, bool tb, float alpha, float[] a, int strideA,
        float[] b, int strideB, float beta, float[] c, float[]? bias, int strideBias, Activation activation)
    {
        for (int e = 0; e < batch; e++)
            GemmReference.Gemm(ta, tb, m, n, k, alpha, a.AsSpan(e * strideA, m * k), b.AsSpan(e * strideB, k * n), beta,
                c.AsSpan(e * m * n, m * n), bias is null ? ReadOnlySpan<float>.Empty : bias.AsSpan(e * strideBias, n), activation);
    }

    static float GemmTolerance(int k) => 2e-6f * k + 1e-6f;

    [Theory]
    [MemberData(nameof(GemmShapes))]
    public void GemmMatchesReference(int m, int n, int k, bool transposeA, bool transposeB)
    {
        m = Clamp(m); n = Clamp(n); k = Clamp(k);
        var a = RandomValues(m * k, 11 + m);
        var b = RandomValues(k * n, 13 + n);
        var c0 = RandomValues(m * n, 17 + k);
        var bias = RandomValues(n, 19);
        var ta = Upload(a, transposeA ? [k, m] : [m, k]);
        var tb = Upload(b, transposeB ? [n, k] : [k, n]);

        // Plain product, β = 0 over NaN garbage in C.
        var c = Upload(Enumerable.Repeat(float.NaN, m * n).ToArray(), m, n);
        Device.Gemm(ta, transposeA, tb, transposeB, c);
        var expected = new float[m * n];
        GemmReference.Gemm(transposeA, transposeB, m, n, k, 1f, a, b, 0f, expected, default, Activation.Identity);
        AssertClose(expected, c.ToArray(), 1e-5f, GemmTolerance(k), $"C = A·B [{m}, {n}, {k}] tA={transposeA} tB={transposeB}");

        // α, β, bias and ReLU epilogue.
        var cb = Upload(c0, m, n);
        Device.Gemm(ta, transposeA, tb, transposeB, cb, alpha: 0.75f, beta: -0.5f, bias: Upload(bias), activation: Activation.Relu);
        expected = (float[])c0.Clone();
        GemmReference.Gemm(transposeA, transposeB, m, n, k, 0.75f, a, b, -0.5f, expected, bias, Activation.Relu);
        AssertClose(expected, cb.ToArray(), 1e-5f, GemmTolerance(k), $"C = relu(αAB + βC + bias) [{m}, {n}, {k}] tA={transposeA} tB={transposeB}");
    }

    [Theory]
    [InlineData(Activation.Identity)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Tanh)]
    public void GemmEpilogueActivations(Activation activation)
    {
        int m = Clamp(37), n = Clamp(19), k = Clamp(23);
        var a = RandomValues(m * k, 1); var b = RandomValues(k * n, 2); var bias = RandomValues(n, 3);
        var c = Device.Allocate(m, n);
        Device.Gemm(Upload(a, m, k), false, Upload(b, k, n), false, c, bias: Upload(bias), activation: activation);
        var expected = new float[m * n];
        GemmReference.Gemm(false, false, m, n, k, 1f, a, b, 0f, expected, bias, activation);
        AssertClose(expected, c.ToArray(), 1e-5f, GemmTolerance(k), $"GEMM with {activation}");
    }

    [Theory]
    [InlineData(Activation.Relu, false, false, 0f, 1)]
    [InlineData(Activation.Relu, false, false, 1f, 1)]
    [InlineData(Activation.Tanh, true, false, -0.5f, 1)]
    [InlineData(Activation.Relu, false, true, 0f, 2)]
    [InlineData(Activation.Tanh, true, true, 1f, 2)]
    public void GemmBackwardEpilogueMatchesReference(Activation activation, bool transposeA, bool transposeB, float beta, int batch)
    {
        // A hidden layer's input gradient δz·W with the previous activation's backward in its store:
        // C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y), with Y as the forward pass leaves it (ReLU: exact zeros about half the time).
        int m = Clamp(37), n = Clamp(41), k = Clamp(23);
        var a = RandomValues(batch * m * k, 31); var b = RandomValues(batch * k * n, 32); var c0 = RandomValues(batch * m * n, 33);
        var y = RandomValues(batch * m * n, 34, -2f, 2f).Select(v => activation == Activation.Relu ? MathF.Max(0f, v) : MathF.Tanh(v)).ToArray();
        int[] Shape(int rows, int cols, bool transposed) => (batch, transposed) switch
        {
            (1, false) => [rows, cols], (1, true) => [cols, rows], (_, false) => [batch, rows, cols], (_, true) => [batch, cols, rows],
        };
        int[] cShape = batch == 1 ? [m, n] : [batch, m, n];
        var c = Upload(beta == 0f ? Enumerable.Repeat(float.NaN, c0.Length).ToArray() : c0, cShape);
        Device.Gemm(Upload(a, Shape(m, k, transposeA)), transposeA, Upload(b, Shape(k, n, transposeB)), transposeB, c,
            alpha: 0.9f, beta: beta, activation: activation, activationOutput: Upload(y, cShape));
        var expected = (float[])c0.Clone();
        for (int e = 0; e < batch; e++)
            GemmReference.Gemm(transposeA, transposeB, m, n, k, 0.9f, a.AsSpan(e * m * k, m * k), b.AsSpan(e * k * n, k * n), beta,
                expected.AsSpan(e * m * n, m * n), default, activation, y.AsSpan(e * m * n, m * n));
        AssertClose(expected, c.ToArray(), 1e-5f, GemmTolerance(k), $"C = (αAB + βC) ⊙ {activation}′(Y), batch {batch}, tA={transposeA} tB={transposeB}, β={beta}");
    }

    [Fact]
    public void GemmBackwardEpilogueValidatesItsArguments()
    {
        var a = Upload(RandomValues(12, 1), 3, 4);
        var b = Upload(RandomValues(20, 2), 4, 5);
        var c = Device.Allocate(3, 5);
        var y = Device.Allocate(3, 5);
        Assert.Contains("Identity", Assert.Throws<ArgumentException>(() => Device.Gemm(a, false, b, false, c, activationOutput: y)).Message);
        Assert.Contains("no bias", Assert.Throws<ArgumentException>(() =>
            Device.Gemm(a, false, b, false, c, bias: Device.Allocate(5), activation: Activation.Relu, activationOutput: y)).Message);
        Assert.Contains("C's shape", Assert.Throws<ArgumentException>(() =>
            Device.Gemm(a, false, b, false, c, activation: Activation.Relu, activationOutput: Device.Allocate(5, 3))).Message);
        var storage = Device.Allocate(40);
        Assert.Contains("overlap", Assert.Throws<ArgumentException>(() =>
            Device.Gemm(a, false, b, false, storage.Slice(0, 3, 5), activation: Activation.Relu, activationOutput: storage.Slice(10, 3, 5))).Message);
    }

    [Theory]
    [InlineData(false, false, false, false)]
    [InlineData(true, false, true, true)]
    [InlineData(false, true, false, true)]
    [InlineData(true, true, true, false)]
    public void BatchedGemmSharesRankTwoOperands(bool sharedA, bool sharedB, bool transposeB, bool perBatchBias)
    {
        int batch = 3, m = Clamp(17), n = Clamp(33), k = Clamp(65);
        var a = RandomValues((sharedA ? 1 : batch) * m * k, 5);
        var b = RandomValues((sharedB ? 1 : batch) * k * n, 6);
        var bias = RandomValues((perBatchBias ? batch : 1) * n, 7);
        var c0 = RandomValues(batch * m * n, 8);
        var ta = sharedA ? Upload(a, m, k) : Upload(a, batch, m, k);
        var tb = transposeB
            ? (sharedB ? Upload(b, n, k) : Upload(b, batch, n, k))
            : (sharedB ? Upload(b, k, n) : Upload(b, batch, k, n));
        var c = Upload(c0, batch, m, n);
        Device.Gemm(ta, false, tb, transposeB, c, alpha: 1.5f, beta: 1f, bias: perBatchBias ? Upload(bias, batch, n) : Upload(bias), activation: Activation.Tanh);
        var expected = (float[])c0.Clone();
        ReferenceBatchedGemm(batch, m, n, k, false, transposeB, 1.5f, a, sharedA ? 0 : m * k, b, sharedB ? 0 : k * n, 1f,
            expected, bias, perBatchBias ? n : 0, Activation.Tanh);
        AssertClose(expected, c.ToArray(), 1e-5f, GemmTolerance(k), "batched GEMM");
    }

    [Fact]
    public void GemmReadsViewsAtOffsets()
    {
        int m = 5, n = 7, k = 3;
        var storage = Upload(RandomValues(200, 9));
        var a = storage.Slice(3, m, k);
        var b = storage.Slice(40, k, n);
        var c = storage.Slice(100, m, n);
        var all = storage.ToArray();
        Device.Gemm(a, false, b, false, c, beta: 1f);
        var expected = (float[])all.Clone();
        GemmReference.Gemm(false, false, m, n, k, 1f, all.AsSpan(3, m * k), all.AsSpan(40, k * n), 1f, expected.AsSpan(100, m * n), default, Activation.Identity);
        AssertClose(expected, storage.ToArray(), 1e-6f, 1e-6f, "GEMM on views of one storage");
    }

    [Fact]
    public void GemmValidatesShapesAndAliasing()
    {
        var a = Device.Allocate(3, 4);
        var b = Device.Allocate(5, 6);
        var c = Device.Allocate(3, 6);
        var error = Assert.Throws<ArgumentException>(() => Device.Gemm(a, false, b, false, c));
        Assert.Contains("do not chain", error.Message);
        var square = Device.Allocate(4, 4);
        Assert.Throws<ArgumentException>(() => Device.Gemm(square, false, Device.Allocate(4, 4), false, square));
        Assert.Throws<ArgumentException>(() => Device.Gemm(Device.Allocate(3, 5), false, b, false, c, bias: Device.Allocate(5)));
    }

    [Theory]
    [InlineData(96, 96, 96)]   // large and balanced: side by side on a threaded CPU backend
    [InlineData(17, 3, 5)]
    public void GemmPairEqualsTwoGemmsBitForBit(int batch, int width, int features)
    {
        int dim = Math.Min(width, MaxGemmDim);
        // A layer's backward: dW += δzᵀ·x and dx = δz·W, on views of one storage for the operands.
        var dz = Upload(RandomValues(batch * dim, 1), batch, dim);
        var x = Upload(RandomValues(batch * features, 2), batch, features);
        var w = Upload(RandomValues(dim * features, 3), dim, features);
        var start = RandomValues(dim * features, 4);
        Tensor dwPair = Upload(start, dim, features), dwSingle = Upload(start, dim, features);
        Tensor dxPair = Device.Allocate(batch, features), dxSingle = Device.Allocate(batch, features);
        Device.GemmPair(new GemmRequest(dz, true, x, false, dwPair, Beta: 1f), new GemmRequest(dz, false, w, false, dxPair));
        Device.Gemm(dz, true, x, false, dwSingle, beta: 1f);
        Device.Gemm(new GemmRequest(dz, false, w, false, dxSingle));
        AssertBitwiseEqual(dwSingle.ToArray(), dwPair.ToArray(), "weight gradient of a pair");
        AssertBitwiseEqual(dxSingle.ToArray(), dxPair.ToArray(), "input gradient of a pair");
        var expected = (float[])start.Clone();
        GemmReference.Gemm(true, false, dim, features, batch, 1f, dz.ToArray(), x.ToArray(), 1f, expected, default, Activation.Identity);
        AssertClose(expected, dwPair.ToArray(), 1e-5f, GemmTolerance(batch), "weight gradient of a pair against the reference");
    }

    [Theory]
    [InlineData(1, 96, 96, 96, true)]    // a layer: weight, input and bias gradients
    [InlineData(1, 37, 5, 23, false)]    // a first layer: no input gradient
    [InlineData(2, 53, 21, 19, true)]    // a two-member ensemble layer (rank-3 δz, [members, out] bias)
    [InlineData(3, 9, 40, 7, false)]
    public void GemmPairAndColumnSumEqualsItsPartsBitForBit(int members, int batch, int width, int features, bool inputGradient)
    {
        int dim = Math.Min(width, MaxGemmDim);
        int[] Shape(params int[] inner) => members == 1 ? inner : [members, .. inner];
        // dW += δzᵀ·x, dx = (δz·W) ⊙ ReLU′(y), db += Σ_batch δz: Linear's backward, as one call and as its parts.
        var dz = Upload(RandomValues(members * batch * dim, 11), Shape(batch, dim));
        var x = Upload(RandomValues(members * batch * features, 12), Shape(batch, features));
        var w = Upload(RandomValues(members * dim * features, 13), Shape(dim, features));
        var y = Upload(RandomValues(members * batch * features, 14, -1f, 1f).Select(v => MathF.Max(0f, v)).ToArray(), Shape(batch, features));
        var startW = RandomValues(members * dim * features, 15);
        var startB = RandomValues(members * dim, 16);
        Tensor dwOne = Upload(startW, Shape(dim, features)), dwParts = Upload(startW, Shape(dim, features));
        Tensor dbOne = Upload(startB, Shape(dim)), dbParts = Upload(startB, Shape(dim));
        Tensor dxOne = Device.Allocate(Shape(batch, features)), dxParts = Device.Allocate(Shape(batch, features));
        GemmRequest WeightGradient(Tensor dw) => new(dz, true, x, false, dw, Beta: 1f);
        GemmRequest InputGradient(Tensor dx) => new(dz, false, w, false, dx, Activation: Activation.Relu, ActivationOutput: y);
        Device.GemmPairAndColumnSum(WeightGradient(dwOne), inputGradient ? InputGradient(dxOne) : null, new ColumnSumRequest(dz, dbOne, Beta: 1f));
        Device.Gemm(WeightGradient(dwParts));
        if (inputGradient) Device.Gemm(InputGradient(dxParts));
        Device.ColumnSum(dz, dbParts, 1f, 1f);
        AssertBitwiseEqual(dwParts.ToArray(), dwOne.ToArray(), "weight gradient");
        AssertBitwiseEqual(dbParts.ToArray(), dbOne.ToArray(), "bias gradient");
        if (inputGradient) AssertBitwiseEqual(dxParts.ToArray(), dxOne.ToArray(), "input gradient");
        else AssertBitwiseEqual(new float[members * batch * features], dxOne.ToArray(), "input gradient (not asked for, left as allocated)");
        var expectedBias = (float[])startB.Clone();
        ReduceReference.ColumnSum(members, batch, dim, dz.ToArray(), expectedBias, 1f, 1f);
        AssertClose(expectedBias, dbOne.ToArray(), 1e-5f, 2e-6f * batch + 1e-6f, "bias gradient against the reference");
        var expectedWeight = (float[])startW.Clone();
        for (int e = 0; e < members; e++)
            GemmReference.Gemm(true, false, dim, features, batch, 1f, dz.ToArray().AsSpan(e * batch * dim, batch * dim).ToArray(),
                x.ToArray().AsSpan(e * batch * features, batch * features).ToArray(), 1f, expectedWeight.AsSpan(e * dim * features, dim * features), default,
                Activation.Identity);
        AssertClose(expectedWeight, dwOne.ToArray(), 1e-5f, GemmTolerance(batch), "weight gradient against the reference");
    }

    [Fact]
    public void GemmPairAndColumnSumRejectsDependentParts()
    {
        var a = Upload(RandomValues(16, 1), 4, 4);
        var b = Upload(RandomValues(16, 2), 4, 4);
        var c = Device.Allocate(4, 4);
        var d = Device.Allocate(4, 4);
        var sums = Device.Allocate(4);
        var gemm = new GemmRequest(a, false, b, false, c);
        // The column sum reads what a GEMM writes.
        var error = Assert.Throws<ArgumentException>(() => Device.GemmPairAndColumnSum(gemm, null, new ColumnSumRequest(c, sums)));
        Assert.Contains("independent", error.Message);
        // The column sum writes what a GEMM reads (the second's B) or writes.
        var columnOfB = b.Reshape(16).Slice(0, 4);
        Assert.Contains("independent", Assert.Throws<ArgumentException>(() =>
            Device.GemmPairAndColumnSum(gemm, new GemmRequest(a, false, b, false, d), new ColumnSumRequest(a, columnOfB))).Message);
        Assert.Contains("independent", Assert.Throws<ArgumentException>(() =>
            Device.GemmPairAndColumnSum(gemm, null, new ColumnSumRequest(a, c.Reshape(16).Slice(4, 4)))).Message);
        // The GEMMs are checked as GemmPair checks them, the sum as ColumnSum does.
        Assert.Contains("independent", Assert.Throws<ArgumentException>(() =>
            Device.GemmPairAndColumnSum(gemm, new GemmRequest(c, false, b, false, d), new ColumnSumRequest(a, sums))).Message);
        Assert.Contains("needs 4 outputs", Assert.Throws<ArgumentException>(() =>
            Device.GemmPairAndColumnSum(gemm, null, new ColumnSumRequest(a, Device.Allocate(5)))).Message);
        Assert.Contains("do not chain", Assert.Throws<ArgumentException>(() =>
            Device.GemmPairAndColumnSum(new GemmRequest(a, false, Device.Allocate(3, 4), false, d), null, new ColumnSumRequest(a, sums))).Message);
        // Nothing was written by the refused calls.
        Assert.All(sums.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GemmPairRejectsDependentGemms()
    {
        var a = Upload(RandomValues(16, 1), 4, 4);
        var b = Upload(RandomValues(16, 2), 4, 4);
        var c = Device.Allocate(4, 4);
        var d = Device.Allocate(4, 4);
        // The second reads what the first writes.
        var error = Assert.Throws<ArgumentException>(() => Device.GemmPair(new GemmRequest(a, false, b, false, c), new GemmRequest(c, false, b, false, d)));
        Assert.Contains("independent", error.Message);
        // Both write the same output.
        Assert.Throws<ArgumentException>(() => Device.GemmPair(new GemmRequest(a, false, b, false, c), new GemmRequest(b, false, a, false, c)));
        // Each GEMM is checked as Gemm checks it.
        Assert.Contains("do not chain", Assert.Throws<ArgumentException>(() =>
            Device.GemmPair(new GemmRequest(a, false, b, false, c), new GemmRequest(a, false, Device.Allocate(3, 4), false, d))).Message);
    }

    // ───────────────────────────── activations and LayerNorm ─────────────────────────────

    [Theory]
    [InlineData(Activation.Identity, 1)]
    [InlineData(Activation.Relu, 17)]
    [InlineData(Activation.Tanh, 771)]
    [InlineData(Activation.Relu, 257)]
    [InlineData(Activation.Tanh, 3)]
    public void ActivationForwardAndBackward(Activation activation, int length)
    {
        var x = RandomValues(length, length, -3f, 3f);
        var dy = RandomValues(length, length + 1);
        var y = Device.Allocate(length);
        Device.ActivationForward(activation, Upload(x), y);
        var expectedY = new float[length];
        ActivationReference.Forward(activation, x, expectedY);
        AssertClose(expectedY, y.ToArray(), 2e-6f, 1e-7f, $"{activation} forward");

        var dx = Device.Allocate(length);
        Device.ActivationBackward(activation, y, Upload(dy), dx);
        var expectedDx = new float[length];
        ActivationReference.Backward(activation, y.ToArray(), dy, expectedDx);
        AssertClose(expectedDx, dx.ToArray(), 2e-6f, 1e-7f, $"{activation} backward");

        // In place: y ← act(y).
        var inPlace = Upload(x);
        Device.ActivationForward(activation, inPlace, inPlace);
        AssertClose(expectedY, inPlace.ToArray(), 2e-6f, 1e-7f, $"{activation} forward in place");
    }

    /// <summary>
    /// ReLU keeps a NaN on every path that applies it (the activation op's vector body and tail, the GEMM epilogue's
    /// tiles, edges and single-row path, LayerNorm's fused ReLU), as PyTorch does. Mapping NaN to 0 hid a NaN weight
    /// as a dead unit: the loss stayed finite and the run went on with a poisoned network.
    /// </summary>
    [Fact]
    public void ReluKeepsNaNOnEveryPath()
    {
        var x = RandomValues(37, 5, -3f, 3f);
        x[1] = float.NaN; x[36] = float.NaN; // in the vector body and in the scalar tail
        var y = Device.Allocate(37);
        Device.ActivationForward(Activation.Relu, Upload(x), y);
        var values = y.ToArray();
        for (int i = 0; i < x.Length; i++)
            Assert.True(float.IsNaN(x[i]) ? float.IsNaN(values[i]) : values[i] == MathF.Max(x[i], 0f), $"ReLU element {i}: {values[i]} for {x[i]}");

        foreach (int m in new[] { 1, 2, Clamp(13) })
        {
            int n = Clamp(21), k = 5;
            var a = RandomValues(m * k, m); var b = RandomValues(k * n, 2); var bias = RandomValues(n, 3);
            int nanRow = m - 1;
            a[nanRow * k + 2] = float.NaN; // poisons row nanRow of C
            b[1 * n + (n - 1)] = float.NaN; // poisons the last column of C
            var c = Device.Allocate(m, n);
            Device.Gemm(Upload(a, m, k), false, Upload(b, k, n), false, c, bias: Upload(bias), activation: Activation.Relu);
            var cValues = c.ToArray();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    bool poisoned = i == nanRow || j == n - 1;
                    Assert.True(poisoned == float.IsNaN(cValues[i * n + j]), $"GEMM + ReLU ({m}×{n}) element ({i}, {j}) is {cValues[i * n + j]}");
                }
        }

        int rows = 3, cols = 19;
        var lnInput = RandomValues(rows * cols, 7);
        lnInput[1 * cols + 4] = float.NaN;
        var normalised = Device.Allocate(rows, cols);
        Device.LayerNormForward(Upload(lnInput, rows, cols), Upload(RandomValues(cols, 8, 0.5f, 1.5f), cols), Upload(RandomValues(cols, 9), cols),
            normalised, Device.Allocate(rows), Device.Allocate(rows), activation: Activation.Relu);
        var lnValues = normalised.ToArray();
        for (int i = 0; i < rows * cols; i++)
            Assert.True(float.IsNaN(lnValues[i]) == (i / cols == 1), $"LayerNorm + ReLU element {i} is {lnValues[i]}");
    }

    [Theory]
    [InlineData(1, 3, 1)]
    [InlineData(17, 1, 1)]
    [InlineData(6, 17, 2)]
    [InlineData(255, 33, 3)]
    [InlineData(257, 64, 1)]
    [InlineData(3, 300, 1)]
    public void LayerNormForwardAndBackward(int rows, int cols, int groups)
    {
        rows = ClampRows(rows) / groups * groups;
        var x = RandomValues(rows * cols, rows, -2f, 3f);
        var gamma = RandomValues(groups * cols, 2, 0.5f, 1.5f);
        var beta = RandomValues(groups * cols, 3);
        var dy = RandomValues(rows * cols, 4);
        var dgamma0 = RandomValues(groups * cols, 5);
        var dbeta0 = RandomValues(groups * cols, 6);
        int[] parameterShape = groups == 1 ? [cols] : [groups, cols];

        var tx = Upload(x, rows, cols);
        var tGamma = Upload(gamma, parameterShape);
        var y = Device.Allocate(rows, cols);
        var mean = Device.Allocate(rows);
        var rstd = Device.Allocate(rows);
        Device.LayerNormForward(tx, tGamma, Upload(beta, parameterShape), y, mean, rstd);
        var expectedY = new float[rows * cols];
        var expectedMean = new float[rows];
        var expectedRstd = new float[rows];
        LayerNormReference.Forward(rows, cols, groups, x, gamma, beta, expectedY, expectedMean, expectedRstd, 1e-5f);
        AssertClose(expectedMean, mean.ToArray(), 1e-5f, 1e-6f, "LayerNorm mean");
        AssertClose(expectedRstd, rstd.ToArray(), 1e-4f, 1e-6f, "LayerNorm rstd");
        AssertClose(expectedY, y.ToArray(), 1e-4f, 2e-5f, "LayerNorm y");

        var dx = Device.Allocate(rows, cols);
        var dgamma = Upload(dgamma0, parameterShape);
        var dbeta = Upload(dbeta0, parameterShape);
        Device.LayerNormBackward(tx, Upload(dy, rows, cols), tGamma, mean, rstd, dx, dgamma, dbeta);
        var expectedDx = new float[rows * cols];
        var expectedDgamma = (float[])dgamma0.Clone();
        var expectedDbeta = (float[])dbeta0.Clone();
        LayerNormReference.Backward(rows, cols, groups, x, dy, gamma, mean.ToArray(), rstd.ToArray(), expectedDx, expectedDgamma, expectedDbeta);
        float columnTolerance = 2e-6f * rows;
        AssertClose(expectedDx, dx.ToArray(), 1e-4f, 5e-5f, "LayerNorm dx");
        AssertClose(expectedDgamma, dgamma.ToArray(), 1e-4f, columnTolerance, "LayerNorm dγ");
        AssertClose(expectedDbeta, dbeta.ToArray(), 1e-4f, columnTolerance, "LayerNorm dβ");
    }

    [Theory]
    [InlineData(6, 17, 2, Activation.Relu)]
    [InlineData(255, 33, 3, Activation.Relu)]
    [InlineData(257, 64, 1, Activation.Tanh)]
    [InlineData(3, 300, 1, Activation.Relu)]
    [InlineData(17, 5, 1, Activation.Tanh)]
    public void LayerNormForwardWithItsActivation(int rows, int cols, int groups, Activation activation)
    {
        rows = ClampRows(rows) / groups * groups;
        var x = RandomValues(rows * cols, rows + 11, -2f, 3f);
        var gamma = RandomValues(groups * cols, 12, 0.5f, 1.5f);
        var beta = RandomValues(groups * cols, 13);
        int[] parameterShape = groups == 1 ? [cols] : [groups, cols];
        var tx = Upload(x, rows, cols);
        var tGamma = Upload(gamma, parameterShape);
        var tBeta = Upload(beta, parameterShape);

        // Against the reference.
        var fused = Device.Allocate(rows, cols);
        var mean = Device.Allocate(rows); var rstd = Device.Allocate(rows);
        Device.LayerNormForward(tx, tGamma, tBeta, fused, mean, rstd, activation: activation);
        var expectedY = new float[rows * cols];
        LayerNormReference.Forward(rows, cols, groups, x, gamma, beta, expectedY, new float[rows], new float[rows], 1e-5f, activation);
        AssertClose(expectedY, fused.ToArray(), 1e-4f, 2e-5f, $"LayerNorm + {activation}");
        var fusedValues = fused.ToArray();
        if (activation == Activation.Relu) Assert.Contains(fusedValues, v => v == 0f);
        Assert.All(fusedValues, v => Assert.True(activation != Activation.Relu || v >= 0f));

        // Against the two passes on this device: the same numbers bit for bit, and the same saved statistics.
        var separate = Device.Allocate(rows, cols);
        var mean2 = Device.Allocate(rows); var rstd2 = Device.Allocate(rows);
        Device.LayerNormForward(tx, tGamma, tBeta, separate, mean2, rstd2);
        Device.ActivationForward(activation, separate, separate);
        Assert.Equal(separate.ToArray(), fusedValues);
        Assert.Equal(mean2.ToArray(), mean.ToArray());
        Assert.Equal(rstd2.ToArray(), rstd.ToArray());
    }

    [Fact]
    public void LayerNormRefusesActivationsItCannotFuse()
    {
        var x = Device.Allocate(4, 3);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Device.LayerNormForward(x, Device.Allocate(3), Device.Allocate(3),
            Device.Allocate(4, 3), Device.Allocate(4), Device.Allocate(4), activation: (Activation)99));
        Assert.Contains("identity, ReLU or tanh", ex.Message);
    }

    [Fact]
    public void LayerNormBackwardAllowsDxToAliasDy()
    {
        int rows = 9, cols = 17;
        var x = RandomValues(rows * cols, 1);
        var gamma = RandomValues(cols, 2);
        var dy = RandomValues(rows * cols, 3);
        var tx = Upload(x, rows, cols);
        var tGamma = Upload(gamma);
        var mean = Device.Allocate(rows); var rstd = Device.Allocate(rows);
        Device.LayerNormForward(tx, tGamma, Device.Allocate(cols), Device.Allocate(rows, cols), mean, rstd);

        var separate = Device.Allocate(rows, cols);
        var dgammaSeparate = Device.Allocate(cols); var dbetaSeparate = Device.Allocate(cols);
        Device.LayerNormBackward(tx, Upload(dy, rows, cols), tGamma, mean, rstd, separate, dgammaSeparate, dbetaSeparate);

        var shared = Upload(dy, rows, cols);
        var dgammaShared = Device.Allocate(cols); var dbetaShared = Device.Allocate(cols);
        Device.LayerNormBackward(tx, shared, tGamma, mean, rstd, shared, dgammaShared, dbetaShared);
        Assert.Equal(separate.ToArray(), shared.ToArray());
        Assert.Equal(dgammaSeparate.ToArray(), dgammaShared.ToArray());
        Assert.Equal(dbetaSeparate.ToArray(), dbetaShared.ToArray());
    }

    [Fact]
    public void LayerNormValidatesShapes()
    {
        var x = Device.Allocate(6, 4);
        var error = Assert.Throws<ArgumentException>(() =>
            Device.LayerNormForward(x, Device.Allocate(5), Device.Allocate(5), Device.Allocate(6, 4), Device.Allocate(6), Device.Allocate(6)));
        Assert.Contains("4 features", error.Message);
        Assert.Throws<ArgumentException>(() =>
            Device.LayerNormForward(x, Device.Allocate(4, 4), Device.Allocate(4, 4), Device.Allocate(6, 4), Device.Allocate(6), Device.Allocate(6)));
        Assert.Throws<ArgumentException>(() =>
            Device.LayerNormForward(x, Device.Allocate(4), Device.Allocate(4), Device.Allocate(6, 4), Device.Allocate(5), Device.Allocate(5)));
    }

    // ───────────────────────────── elementwise ─────────────────────────────

    public static TheoryData<UnaryOp> UnaryOps() => new(Enum.GetValues<UnaryOp>());

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryMatchesReference(UnaryOp op)
    {
        int length = 257 * 3;
        (float low, float high) = op switch
        {
            UnaryOp.Log or UnaryOp.Sqrt => (0.01f, 10f),
            UnaryOp.Atanh => (-0.99f, 0.99f),
            _ => (-5f, 5f),
        };
        var x = RandomValues(length, (int)op, low, high);
        float a = op == UnaryOp.Clamp ? -1f : 0.3f, b = op == UnaryOp.Clamp ? 2f : -1.25f;
        var y = Device.Allocate(3, 257);
        Device.Unary(op, Upload(x, 3, 257), y, a, b);
        var expected = new float[length];
        ElementwiseReference.Unary(op, x, expected, a, b);
        AssertClose(expected, y.ToArray(), 4e-6f, 1e-7f, op.ToString());

        var inPlace = Upload(x);
        Device.Unary(op, inPlace, inPlace, a, b);
        AssertClose(expected, inPlace.ToArray(), 4e-6f, 1e-7f, $"{op} in place");
    }

    public static TheoryData<BinaryOp, Broadcast> BinaryCases()
    {
        var data = new TheoryData<BinaryOp, Broadcast>();
        foreach (var op in Enum.GetValues<BinaryOp>())
            foreach (var broadcast in Enum.GetValues<Broadcast>())
                data.Add(op, broadcast);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryMatchesReference(BinaryOp op, Broadcast broadcast)
    {
        int rows = 17, cols = 255;
        int yLength = broadcast switch { Broadcast.None => rows * cols, Broadcast.Row => cols, Broadcast.Column => rows, _ => 1 };
        var x = RandomValues(rows * cols, 1);
        var yValues = RandomValues(yLength, 2, 0.5f, 2f);
        var ty = Upload(yValues);
        var z = Device.Allocate(rows, cols);
        Device.Binary(op, Upload(x, rows, cols), ty, z, 1.5f, -0.5f, broadcast);
        var expected = new float[rows * cols];
        ElementwiseReference.Binary(op, x, yValues, expected, 1.5f, -0.5f, broadcast, cols);
        AssertClose(expected, z.ToArray(), 2e-6f, 1e-7f, $"{op} {broadcast}");

        // z = x in place.
        var inPlace = Upload(x, rows, cols);
        Device.Binary(op, inPlace, ty, inPlace, 1.5f, -0.5f, broadcast);
        AssertClose(expected, inPlace.ToArray(), 2e-6f, 1e-7f, $"{op} {broadcast} in place");
    }

    [Fact]
    public void BinaryOutputMayAliasSecondOperand()
    {
        var x = RandomValues(257, 1);
        var y = RandomValues(257, 2);
        var ty = Upload(y);
        Device.Binary(BinaryOp.Add, Upload(x), ty, ty, 2f, 3f);
        var expected = new float[257];
        ElementwiseReference.Binary(BinaryOp.Add, x, y, expected, 2f, 3f, Broadcast.None, 257);
        AssertClose(expected, ty.ToArray(), 1e-7f, 0f, "z = y in place");
    }

    [Fact]
    public void BinaryValidatesBroadcastLength()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            Device.Binary(BinaryOp.Add, Device.Allocate(3, 5), Device.Allocate(3), Device.Allocate(3, 5), broadcast: Broadcast.Row));
        Assert.Contains("needs y of 5 elements", error.Message);
        Assert.Throws<ArgumentException>(() => Device.Unary(UnaryOp.Exp, Device.Allocate(4), Device.Allocate(5)));
    }

    [Fact]
    public void SelectMatchesReference()
    {
        int n = 255;
        var condition = RandomValues(n, 1);
        condition[0] = 0f;
        var x = RandomValues(n, 2); var y = RandomValues(n, 3);
        var z = Device.Allocate(n);
        Device.Select(Upload(condition), Upload(x), Upload(y), z);
        var expected = new float[n];
        ElementwiseReference.Select(condition, x, y, expected);
        Assert.Equal(expected, z.ToArray());
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(256, 17, 6)]
    [InlineData(3, 0, 5)]
    [InlineData(257, 11, 3)]
    public void ConcatColumnsMatchesReference(int rows, int leftCols, int rightCols)
    {
        rows = ClampRows(rows);
        var left = RandomValues(rows * leftCols, 61);
        var right = RandomValues(rows * rightCols, 62);
        var destination = Upload(Enumerable.Repeat(float.NaN, rows * (leftCols + rightCols)).ToArray(), rows, leftCols + rightCols);
        Device.ConcatColumns(Upload(left, rows, leftCols), Upload(right, rows, rightCols), destination);
        var expected = new float[rows * (leftCols + rightCols)];
        ElementwiseReference.ConcatColumns(rows, left, leftCols, right, rightCols, expected);
        AssertBitwiseEqual(expected, destination.ToArray(), $"[{rows}, {leftCols}] | [{rows}, {rightCols}]");
    }

    [Fact]
    public void ConcatColumnsRejectsBadShapesAndOverlap()
    {
        var left = Device.Allocate(4, 3);
        var right = Device.Allocate(4, 2);
        Assert.Contains("side by side", Assert.Throws<ArgumentException>(() => Device.ConcatColumns(left, right, Device.Allocate(4, 6))).Message);
        Assert.Throws<ArgumentException>(() => Device.ConcatColumns(left, Device.Allocate(3, 2), Device.Allocate(4, 5)));
        var storage = Device.Allocate(40);
        Assert.Contains("overlap", Assert.Throws<ArgumentException>(() =>
            Device.ConcatColumns(storage.Slice(0, 4, 3), right, storage.Slice(10, 4, 5))).Message);
    }

    [Theory]
    [InlineData(1, 3, 0, 5, 2, 3)]
    [InlineData(17, 17, 4, 9, 1, 8)]
    [InlineData(257, 6, 3, 6, 3, 3)]
    public void CopyColumnsMatchesReference(int rows, int sourceCols, int sourceColumn, int destinationCols, int destinationColumn, int count)
    {
        rows = ClampRows(rows);
        var source = RandomValues(rows * sourceCols, 1);
        var destination0 = RandomValues(rows * destinationCols, 2);
        var destination = Upload(destination0, rows, destinationCols);
        Device.CopyColumns(Upload(source, rows, sourceCols), sourceColumn, destination, destinationColumn, count);
        var expected = (float[])destination0.Clone();
        ElementwiseReference.CopyColumns(rows, source, sourceCols, sourceColumn, expected, destinationCols, destinationColumn, count);
        Assert.Equal(expected, destination.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.CopyColumns(Upload(source, rows, sourceCols), sourceColumn + 1, destination, 0, sourceCols));
    }

    // ───────────────────────────── reductions ─────────────────────────────

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 257)]
    [InlineData(257, 17)]
    [InlineData(255, 1)]
    public void RowSumMatchesReference(int rows, int cols)
    {
        rows = ClampRows(rows);
        var x = RandomValues(rows * cols, 1);
        var y = Upload(Enumerable.Repeat(float.NaN, rows).ToArray());
        Device.RowSum(Upload(x, rows, cols), y, 1f / cols);
        var expected = new float[rows];
        ReduceReference.RowSum(rows, cols, x, expected, 1f / cols, 0f);
        AssertClose(expected, y.ToArray(), 1e-5f, 1e-6f, "row mean over NaN output (β = 0)");

        var y0 = RandomValues(rows, 2);
        var yAccumulate = Upload(y0);
        Device.RowSum(Upload(x, rows, cols), yAccumulate, 2f, 0.5f);
        expected = (float[])y0.Clone();
        ReduceReference.RowSum(rows, cols, x, expected, 2f, 0.5f);
        AssertClose(expected, yAccumulate.ToArray(), 1e-5f, 2e-6f * cols, "row sum with β");
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 257, 17)]
    [InlineData(2, 255, 3)]
    [InlineData(3, 17, 257)]
    public void ColumnSumMatchesReference(int batch, int rows, int cols)
    {
        rows = ClampRows(rows);
        var x = RandomValues(batch * rows * cols, 1);
        var y0 = RandomValues(batch * cols, 2);
        var tx = batch == 1 ? Upload(x, rows, cols) : Upload(x, batch, rows, cols);
        var y = batch == 1 ? Upload(y0, cols) : Upload(y0, batch, cols);
        Device.ColumnSum(tx, y, 1f, 1f);
        var expected = (float[])y0.Clone();
        ReduceReference.ColumnSum(batch, rows, cols, x, expected, 1f, 1f);
        AssertClose(expected, y.ToArray(), 1e-5f, 2e-6f * rows, "column sum accumulating");

        var overwrite = Upload(Enumerable.Repeat(float.NaN, batch * cols).ToArray());
        Device.ColumnSum(tx, overwrite, -0.5f);
        expected = new float[batch * cols];
        ReduceReference.ColumnSum(batch, rows, cols, x, expected, -0.5f, 0f);
        AssertClose(expected, overwrite.ToArray(), 1e-5f, 2e-6f * rows, "column sum over NaN output (β = 0)");
        Assert.Throws<ArgumentException>(() => Device.ColumnSum(tx, Device.Allocate(batch * cols + 1)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(257)]
    [InlineData(66049)]
    public void SumMatchesReferenceAndRepeatsExactly(int length)
    {
        var x = RandomValues(length, length);
        var tx = Upload(x);
        var y = Device.Allocate(1);
        Device.Sum(tx, y, 0.5f);
        float expected = ReduceReference.Sum(x, 0.5f);
        AssertClose([expected], y.ToArray(), 1e-5f, 1e-6f * MathF.Sqrt(length), "sum");
        float first = Device.ReadScalar(y);
        Device.Sum(tx, y, 0.5f);
        AssertBitwiseEqual([first], y.ToArray(), "repeated sum");
        Assert.Throws<ArgumentException>(() => Device.Sum(tx, Device.Allocate(2)));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 257)]
    [InlineData(3, 17)]
    public void EnsembleMinAndBackward(int members, int n)
    {
        var x = RandomValues(members * n, 1);
        if (members > 1) x[n] = x[0]; // a tie: the first member wins
        var y = Device.Allocate(n);
        var argMin = Device.Allocate(n);
        Device.EnsembleMin(Upload(x, members, n), y, argMin);
        var expectedY = new float[n];
        var expectedArg = new float[n];
        ReduceReference.EnsembleMin(members, x, expectedY, expectedArg);
        Assert.Equal(expectedY, y.ToArray());
        Assert.Equal(expectedArg, argMin.ToArray());

        var dy = RandomValues(n, 2);
        var dx = Upload(Enumerable.Repeat(float.NaN, members * n).ToArray(), members, n);
        Device.EnsembleMinBackward(argMin, Upload(dy), dx);
        var expectedDx = new float[members * n];
        ReduceReference.EnsembleMinBackward(members, expectedArg, dy, expectedDx);
        Assert.Equal(expectedDx, dx.ToArray());
        if (n > 1) Assert.Throws<ArgumentException>(() => Device.EnsembleMin(Device.Allocate(members * n + 1), y, argMin));
    }

    // ───────────────────────────── losses ─────────────────────────────

    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(4099)]
    public void MseLossMatchesReference(int n)
    {
        var p = RandomValues(n, 1); var t = RandomValues(n, 2);
        var gradient = Device.Allocate(n);
        var loss = Device.Allocate(1);
        var tp = Upload(p);
        var tt = Upload(t);
        Device.MseLoss(tp, tt, gradient, loss, 0.5f);
        var expectedGradient = new float[n];
        float expectedLoss = LossReference.Mse(p, t, expectedGradient, 0.5f);
        AssertClose([expectedLoss], loss.ToArray(), 1e-5f, 1e-7f, "MSE loss");
        AssertClose(expectedGradient, gradient.ToArray(), 1e-6f, 1e-9f, "MSE gradient");
        float first = Device.ReadScalar(loss);

        // The gradient may overwrite the prediction.
        Device.MseLoss(tp, tt, tp, loss, 0.5f);
        AssertClose(expectedGradient, tp.ToArray(), 1e-6f, 1e-9f, "MSE gradient in place");
        AssertBitwiseEqual([first], loss.ToArray(), "MSE loss repeated");
        Assert.Throws<ArgumentException>(() => Device.MseLoss(tp, Device.Allocate(n + 1), gradient, loss));
        Assert.Throws<ArgumentException>(() => Device.MseLoss(tp, tt, gradient, Device.Allocate(2)));
    }

    [Theory]
    [InlineData(1, 0.7f)]
    [InlineData(257, 0.9f)]
    [InlineData(1000, 0.5f)]
    public void ExpectileLossMatchesReference(int n, float tau)
    {
        var p = RandomValues(n, 3); var t = RandomValues(n, 4);
        var gradient = Device.Allocate(n);
        var loss = Device.Allocate(1);
        Device.ExpectileLoss(Upload(p), Upload(t), tau, gradient, loss);
        var expectedGradient = new float[n];
        float expectedLoss = LossReference.Expectile(p, t, tau, expectedGradient);
        AssertClose([expectedLoss], loss.ToArray(), 1e-5f, 1e-7f, "expectile loss");
        AssertClose(expectedGradient, gradient.ToArray(), 1e-6f, 1e-9f, "expectile gradient");
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.ExpectileLoss(Upload(p), Upload(t), 1f, gradient, loss));
    }

    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(2, 3, true)]
    [InlineData(2, 257, true)]
    [InlineData(3, 1000, false)]
    public void SoftActorLossMatchesReference(int critics, int batch, bool temperature)
    {
        batch = ClampRows(batch);
        var q = RandomValues(critics * batch, 1, -3f, 3f);
        if (critics > 1) q[batch] = q[0]; // a tie: the first critic takes the gradient
        var logProb = RandomValues(batch, 2, -4f, 2f);
        const float alpha = 0.3f, logAlpha = -1.2f, targetEntropy = -6f;
        var qGradient = Upload(Enumerable.Repeat(float.NaN, critics * batch).ToArray(), critics, batch);
        var logProbGradient = Device.Allocate(batch);
        var loss = Device.Allocate(1); var logAlphaGradient = Device.Allocate(1); var alphaLoss = Device.Allocate(1);
        var tq = Upload(q, critics, batch); var tLogProb = Upload(logProb); var tAlpha = Upload([alpha]);
        if (temperature)
            Device.SoftActorLoss(tq, tLogProb, tAlpha, qGradient, logProbGradient, loss, Upload([logAlpha]), targetEntropy, logAlphaGradient, alphaLoss);
        else
            Device.SoftActorLoss(tq, tLogProb, tAlpha, qGradient, logProbGradient, loss);

        var expectedQGradient = new float[critics * batch];
        var expectedLogProbGradient = new float[batch];
        float expectedLoss = SacLossReference.ActorLoss(critics, batch, q, logProb, alpha, expectedQGradient, expectedLogProbGradient, out float meanLogProb);
        AssertClose([expectedLoss], loss.ToArray(), 1e-5f, 1e-6f, "actor loss");
        Assert.Equal(expectedQGradient, qGradient.ToArray());
        AssertClose(expectedLogProbGradient, logProbGradient.ToArray(), 1e-6f, 0f, "∂L/∂log π");
        if (temperature)
        {
            float expectedGradient = SacLossReference.TemperatureGradient(meanLogProb, targetEntropy, logAlpha, out float expectedAlphaLoss);
            AssertClose([expectedGradient], logAlphaGradient.ToArray(), 1e-5f, 1e-6f, "∂L_α/∂log α");
            AssertClose([expectedAlphaLoss], alphaLoss.ToArray(), 1e-5f, 1e-6f, "L_α");
        }
        else Assert.Equal(0f, Device.ReadScalar(logAlphaGradient));

        Assert.Throws<ArgumentException>(() => Device.SoftActorLoss(Device.Allocate(critics * batch + 1), tLogProb, tAlpha, qGradient, logProbGradient, loss));
        Assert.Throws<ArgumentException>(() => Device.SoftActorLoss(tq, tLogProb, Device.Allocate(2), qGradient, logProbGradient, loss));
        Assert.Throws<ArgumentException>(() => Device.SoftActorLoss(tq, tLogProb, tAlpha, qGradient, logProbGradient, loss, Upload([logAlpha]), targetEntropy));
        Assert.Throws<ArgumentException>(() => Device.SoftActorLoss(tq, tLogProb, tAlpha, tq, logProbGradient, loss));
    }

    [Theory]
    [InlineData(1, 1, 1, true, false)]
    [InlineData(2, 2, 3, true, true)]
    [InlineData(2, 2, 257, true, false)]
    [InlineData(2, 1, 256, false, false)]
    [InlineData(2, 2, 17, false, false)] // TD3 and TD3+BC: twin target critics, no entropy term
    [InlineData(2, 2, 255, false, true)] // O2TD3 stage C: λ·P′ as the per-row cost, no entropy term
    [InlineData(10, 10, 1000, true, true)]
    public void SoftTdLossMatchesReference(int critics, int nextCritics, int batch, bool entropyTerm, bool cost)
    {
        batch = ClampRows(batch);
        var q = RandomValues(critics * batch, 1, -3f, 3f);
        var nextQ = RandomValues(nextCritics * batch, 2, -3f, 3f);
        var nextLogProb = RandomValues(batch, 3, -4f, 2f);
        var nextCost = RandomValues(batch, 4, -1f, 1f);
        var rewards = RandomValues(batch, 5, -2f, 2f);
        var terminals = RandomValues(batch, 6, 0f, 1f).Select(v => v < 0.3f ? 1f : 0f).ToArray();
        const float alpha = 0.7f, gamma = 0.99f;
        var gradient = Upload(Enumerable.Repeat(float.NaN, critics * batch).ToArray(), critics, batch);
        var target = Device.Allocate(batch);
        var loss = Device.Allocate(1); var meanQ = Device.Allocate(1);
        var tq = Upload(q, critics, batch); var tNextQ = Upload(nextQ, nextCritics, batch);
        var tLogProb = entropyTerm ? Upload(nextLogProb) : null;
        var tCost = cost ? Upload(nextCost) : null;
        var tRewards = Upload(rewards); var tTerminals = Upload(terminals); var tAlpha = Upload([alpha]);
        Device.SoftTdLoss(tq, tNextQ, tLogProb, tAlpha, tCost, tRewards, tTerminals, gamma, gradient, loss, meanQ, target);

        var expectedGradient = new float[critics * batch];
        var expectedTarget = new float[batch];
        float expectedLoss = SacLossReference.TdLoss(critics, nextCritics, batch, q, nextQ, entropyTerm ? nextLogProb : default, alpha,
            cost ? nextCost : default, rewards, terminals, gamma, expectedGradient, expectedTarget, out float expectedMeanQ);
        AssertClose(expectedTarget, target.ToArray(), 1e-6f, 1e-6f, "y");
        AssertClose(expectedGradient, gradient.ToArray(), 1e-5f, 1e-6f, "∂L_Q/∂Q");
        AssertClose([expectedLoss], loss.ToArray(), 1e-5f, 1e-6f, "L_Q");
        AssertClose([expectedMeanQ], meanQ.ToArray(), 1e-5f, 1e-6f, "mean Q");
        // A terminal row's target is its reward.
        for (int i = 0; i < batch; i++)
            if (terminals[i] == 1f) Assert.Equal(rewards[i], target.ToArray()[i]);

        // Without the target output: the same loss, bit for bit.
        float first = Device.ReadScalar(loss);
        Device.SoftTdLoss(tq, tNextQ, tLogProb, tAlpha, tCost, tRewards, tTerminals, gamma, gradient, loss, meanQ);
        AssertBitwiseEqual([first], loss.ToArray(), "L_Q without y");
        Assert.Throws<ArgumentException>(() => Device.SoftTdLoss(Device.Allocate(critics * batch + 1), tNextQ, tLogProb, tAlpha, tCost, tRewards, tTerminals, gamma, gradient, loss, meanQ));
        Assert.Throws<ArgumentException>(() => Device.SoftTdLoss(tq, tNextQ, tLogProb, tAlpha, tCost, tRewards, Device.Allocate(batch + 1), gamma, gradient, loss, meanQ));
        Assert.Throws<ArgumentException>(() => Device.SoftTdLoss(tq, tNextQ, tLogProb, tAlpha, tCost, tRewards, tTerminals, gamma, tq, loss, meanQ));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.SoftTdLoss(tq, tNextQ, tLogProb, tAlpha, tCost, tRewards, tTerminals, float.NaN, gradient, loss, meanQ));
    }

    // ───────────────────────────── distributions ─────────────────────────────

    /// <summary>
    /// A random tanh-Gaussian head [rows, 2d] (μ, ρ in [−2, 2]) with raw log-stds past both clamps of [−20, 2], and
    /// exactly at them (with m = 1, o = 0 those pass the gradient).
    /// </summary>
    static float[] TanhGaussianHead(int rows, int actionDim, int seed)
    {
        var head = RandomValues(2 * rows * actionDim, seed, -2f, 2f);
        for (int r = 0; r < rows; r++)
        {
            int logStd = r * 2 * actionDim + actionDim;
            if (r % 4 == 1) head[logStd] = -25f;
            if (r % 4 == 2) head[logStd] = 5f;
            if (r % 4 == 3 && actionDim > 1) head[logStd + 1] = r % 8 == 3 ? 2f : -20f;
        }
        return head;
    }

    [Theory]
    [InlineData(1, 1, 1.5f, -0.5f)]
    [InlineData(3, 6, 1.5f, -0.5f)]
    [InlineData(257, 6, 1f, 0f)]
    [InlineData(100, 17, 0.8f, 0.3f)]
    public void TanhGaussianSampleMatchesReference(int rows, int actionDim, float multiplier, float offset)
    {
        rows = Math.Min(rows, MaxRows);
        int n = rows * actionDim;
        var head = TanhGaussianHead(rows, actionDim, seed: 1);
        var noise = RandomValues(n, 2, -2.5f, 2.5f);
        var expectedAction = new float[n]; var expectedStdNoise = new float[n]; var expectedLogProb = new float[rows];
        TanhGaussianReference.Sample(rows, actionDim, head, noise, multiplier, offset, -20f, 2f, expectedAction, expectedStdNoise, expectedLogProb);

        var tHead = Upload(head, rows, 2 * actionDim); var tM = Upload([multiplier], 1); var tO = Upload([offset], 1);
        var action = Device.Allocate(rows, actionDim); var stdNoise = Device.Allocate(rows, actionDim); var logProb = Device.Allocate(rows);
        Device.TanhGaussianSample(tHead, Upload(noise, rows, actionDim), tM, tO, -20f, 2f, action, stdNoise, logProb);
        AssertClose(expectedAction, action.ToArray(), 2e-6f, 1e-7f, "tanh-Gaussian action");
        AssertClose(expectedStdNoise, stdNoise.ToArray(), 2e-6f, 1e-12f, "tanh-Gaussian σε");
        AssertClose(expectedLogProb, logProb.ToArray(), 2e-6f, 2e-5f, "tanh-Gaussian log π");

        var actionGradient = RandomValues(n, 3); var logProbGradient = RandomValues(rows, 4); var preImageGradient = RandomValues(n, 8);
        // Both gradients, the action gradient alone (Q through the action), the log-prob gradient alone (entropy); the
        // pre-image gradient (O2SAC's ℓ_ref at u) with the other two and alone.
        foreach (var (useAction, useLogProb, usePreImage) in new[] { (true, true, false), (true, false, false), (false, true, false), (true, true, true), (false, false, true) })
        {
            var expectedHeadGradient = new float[2 * n];
            float expectedDm = 0.25f, expectedDo = -0.5f;
            TanhGaussianReference.SampleBackward(rows, actionDim, head, multiplier, offset, -20f, 2f, expectedAction, expectedStdNoise,
                useAction ? actionGradient : default, useLogProb ? logProbGradient : default, expectedHeadGradient, ref expectedDm, ref expectedDo,
                usePreImage ? preImageGradient : default);
            var headGradient = Device.Allocate(rows, 2 * actionDim); var dm = Upload([0.25f], 1); var dO = Upload([-0.5f], 1);
            Device.TanhGaussianSampleBackward(tHead, tM, tO, -20f, 2f, action, stdNoise,
                useAction ? Upload(actionGradient, rows, actionDim) : null, useLogProb ? Upload(logProbGradient, rows) : null, headGradient, dm, dO,
                usePreImage ? Upload(preImageGradient, rows, actionDim) : null);
            string what = $"tanh-Gaussian backward (action gradient {useAction}, log-prob gradient {useLogProb}, pre-image gradient {usePreImage})";
            AssertClose(expectedHeadGradient, headGradient.ToArray(), 1e-5f, 1e-6f, what + ": ∂L/∂head");
            AssertClose([expectedDm, expectedDo], [dm.ToArray()[0], dO.ToArray()[0]], 1e-5f, 1e-4f, what + ": ∂L/∂m, ∂L/∂o");
        }
    }

    [Theory]
    [InlineData(1, 1, 1.5f, -0.5f)]
    [InlineData(3, 6, 1.5f, -0.5f)]
    [InlineData(257, 6, 1f, 0f)]
    [InlineData(100, 17, 0.8f, 0.3f)]
    public void TanhGaussianLogProbMatchesReference(int rows, int actionDim, float multiplier, float offset)
    {
        rows = Math.Min(rows, MaxRows);
        int n = rows * actionDim;
        var head = TanhGaussianHead(rows, actionDim, seed: 5);
        var action = RandomValues(n, 6, -0.999f, 0.999f);
        for (int r = 0; r < rows; r++)
        {
            // Actions at and past the ±(1 − 1e-4) clamp (those pass no gradient).
            if (r % 3 == 1) action[r * actionDim] = 1f;
            if (r % 3 == 2) action[r * actionDim + actionDim - 1] = -0.99999f;
        }
        const float bound = 0.9999f;
        var expectedLogProb = new float[rows]; var expectedSaved = new float[4 * n];
        TanhGaussianReference.LogProb(rows, actionDim, head, action, multiplier, offset, -20f, 2f, bound, expectedLogProb, expectedSaved);

        var tHead = Upload(head, rows, 2 * actionDim); var tM = Upload([multiplier], 1); var tO = Upload([offset], 1);
        var logProb = Device.Allocate(rows); var saved = Device.Allocate(4 * n);
        Device.TanhGaussianLogProb(tHead, Upload(action, rows, actionDim), tM, tO, -20f, 2f, bound, logProb, saved);
        AssertClose(expectedLogProb, logProb.ToArray(), 2e-6f, 5e-5f, "tanh-Gaussian log π of given actions");
        // atanh near ±1 amplifies the last bits of the clamped action: z is held to a relative 10⁻⁵.
        AssertClose(expectedSaved, saved.ToArray(), 1e-5f, 1e-6f, "tanh-Gaussian saved values");

        var logProbGradient = RandomValues(rows, 7);
        foreach (bool withHead in new[] { false, true })
        {
            var expectedActionGradient = new float[n]; var expectedHeadGradient = withHead ? new float[2 * n] : [];
            float expectedDm = 0.25f, expectedDo = -0.5f;
            TanhGaussianReference.LogProbBackward(rows, actionDim, head, multiplier, offset, -20f, 2f, expectedSaved, logProbGradient,
                expectedActionGradient, expectedHeadGradient, ref expectedDm, ref expectedDo);
            var actionGradient = Device.Allocate(rows, actionDim);
            var headGradient = withHead ? Device.Allocate(rows, 2 * actionDim) : null;
            var dm = withHead ? Upload([0.25f], 1) : null; var dO = withHead ? Upload([-0.5f], 1) : null;
            Device.TanhGaussianLogProbBackward(tHead, tM, tO, -20f, 2f, saved, Upload(logProbGradient, rows), actionGradient, headGradient, dm, dO);
            string what = $"tanh-Gaussian log-prob backward (head gradient {withHead})";
            AssertClose(expectedActionGradient, actionGradient.ToArray(), 1e-5f, 1e-5f, what + ": ∂L/∂a");
            for (int r = 0; r < rows; r++)
            {
                if (r % 3 == 1) Assert.Equal(0f, actionGradient.ToArray()[r * actionDim]);
            }
            if (!withHead) continue;
            AssertClose(expectedHeadGradient, headGradient!.ToArray(), 1e-5f, 1e-6f, what + ": ∂L/∂head");
            AssertClose([expectedDm, expectedDo], [dm!.ToArray()[0], dO!.ToArray()[0]], 1e-5f, 1e-4f, what + ": ∂L/∂m, ∂L/∂o");
        }
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianLogProbBackward(tHead, tM, tO, -20f, 2f, saved, Upload(logProbGradient, rows),
            Device.Allocate(rows, actionDim), Device.Allocate(rows, 2 * actionDim), null, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.TanhGaussianLogProb(tHead, Upload(action, rows, actionDim), tM, tO, -20f, 2f, 1f, logProb, saved));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianLogProb(tHead, Upload(action, rows, actionDim), tM, tO, -20f, 2f, bound, logProb, Device.Allocate(n)));
    }

    [Theory]
    [InlineData(1, 1, 1.5f, -0.5f)]
    [InlineData(257, 6, 1f, 0f)]
    [InlineData(100, 17, 0.8f, 0.3f)]
    public void TanhGaussianLogProbAtPreImagesMatchesReference(int rows, int actionDim, float multiplier, float offset)
    {
        rows = Math.Min(rows, MaxRows);
        int n = rows * actionDim;
        var head = TanhGaussianHead(rows, actionDim, seed: 9);
        var preImage = RandomValues(n, 10, -3f, 3f);
        // Pre-images far past atanh(1 − 1e-4) = 4.95, where tanh rounds to ±1 in float: scored as they are, no clamp.
        for (int r = 0; r < rows; r++)
        {
            if (r % 3 == 1) preImage[r * actionDim] = 9.5f;
            if (r % 3 == 2) preImage[r * actionDim + actionDim - 1] = -12f;
        }
        var expectedLogProb = new float[rows]; var expectedSaved = new float[4 * n];
        TanhGaussianReference.LogProb(rows, actionDim, head, preImage, multiplier, offset, -20f, 2f, 0.9999f, expectedLogProb, expectedSaved, givenIsPreImage: true);

        var tHead = Upload(head, rows, 2 * actionDim); var tM = Upload([multiplier], 1); var tO = Upload([offset], 1);
        var logProb = Device.Allocate(rows); var saved = Device.Allocate(4 * n);
        Device.TanhGaussianLogProb(tHead, Upload(preImage, rows, actionDim), tM, tO, -20f, 2f, 0.9999f, logProb, saved, givenIsPreImage: true);
        AssertClose(expectedLogProb, logProb.ToArray(), 2e-6f, 5e-5f, "tanh-Gaussian log π at pre-images");
        AssertClose(expectedSaved, saved.ToArray(), 1e-5f, 1e-6f, "tanh-Gaussian saved values at pre-images");

        var logProbGradient = RandomValues(rows, 11);
        var expectedGradient = new float[n]; float unusedM = 0f, unusedO = 0f;
        TanhGaussianReference.LogProbBackward(rows, actionDim, head, multiplier, offset, -20f, 2f, expectedSaved, logProbGradient,
            expectedGradient, [], ref unusedM, ref unusedO);
        var gradient = Device.Allocate(rows, actionDim);
        Device.TanhGaussianLogProbBackward(tHead, tM, tO, -20f, 2f, saved, Upload(logProbGradient, rows), gradient, null, null, null);
        AssertClose(expectedGradient, gradient.ToArray(), 1e-5f, 1e-5f, "tanh-Gaussian ∂L/∂u");
        // ∂log π/∂u = 2·tanh u − (u − μ)/σ² is not cut where tanh u saturates (the action route passes 0 there).
        for (int r = 1; r < rows; r += 3) Assert.NotEqual(0f, gradient.ToArray()[r * actionDim]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(257, 6)]
    public void ATanhGaussianSampleThatDrawsItsNoiseIsTheDrawThenTheSample(int rows, int actionDim)
    {
        rows = Math.Min(rows, MaxRows);
        var head = Upload(TanhGaussianHead(rows, actionDim, seed: 5), rows, 2 * actionDim);
        var m = Upload([0.9f], 1); var o = Upload([0.1f], 1);
        Tensor Matrix() => Device.Allocate(rows, actionDim);
        var (noiseOne, actionOne, stdNoiseOne, logProbOne) = (Matrix(), Matrix(), Matrix(), Device.Allocate(rows));
        var (noiseTwo, actionTwo, stdNoiseTwo, logProbTwo) = (Matrix(), Matrix(), Matrix(), Device.Allocate(rows));
        var streamOne = new DeviceRandom(17, 1000);
        var streamTwo = new DeviceRandom(17, 1000);
        for (int call = 0; call < 2; call++)   // the second call draws the stream's next numbers
        {
            Device.TanhGaussianSample(head, noiseOne, streamOne.Take(noiseOne.Length), m, o, -20f, 2f, actionOne, stdNoiseOne, logProbOne);
            streamTwo.Normal(noiseTwo);
            Device.TanhGaussianSample(head, noiseTwo, m, o, -20f, 2f, actionTwo, stdNoiseTwo, logProbTwo);
            AssertBitwiseEqual(noiseTwo.ToArray(), noiseOne.ToArray(), $"call {call}: ε");
            AssertBitwiseEqual(actionTwo.ToArray(), actionOne.ToArray(), $"call {call}: action");
            AssertBitwiseEqual(stdNoiseTwo.ToArray(), stdNoiseOne.ToArray(), $"call {call}: σε");
            AssertBitwiseEqual(logProbTwo.ToArray(), logProbOne.ToArray(), $"call {call}: log π");
            Assert.Equal(streamTwo.Counter, streamOne.Counter);
        }
        Assert.Equal(1000UL + 2UL * (ulong)(rows * actionDim), streamOne.Counter);
        // The drawn noise is an output: it may not overlap the head or another output.
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSample(head, actionOne, new PhiloxDraw(17, 0), m, o, -20f, 2f, actionOne, stdNoiseOne, logProbOne));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSample(head, head.Reshape(rows * 2 * actionDim).Slice(0, rows, actionDim), new PhiloxDraw(17, 0),
            m, o, -20f, 2f, actionOne, stdNoiseOne, logProbOne));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeviceRandom(1).Take(-1));
    }

    [Theory]
    [InlineData(0.2f, 0.5f, 1f)]                                        // TD3's target smoothing
    [InlineData(0.1f, float.PositiveInfinity, float.PositiveInfinity)]  // exploration without an action clamp
    [InlineData(0f, 0.5f, 1f)]
    public void ANoisyActionIsItsFiveOpsInOne(float noiseStd, float noiseClip, float actionLimit)
    {
        const int rows = 37, actionDim = 3;
        var mean = Upload(RandomValues(rows * actionDim, 61, -1.2f, 1.2f), rows, actionDim);
        Tensor Matrix() => Device.Allocate(rows, actionDim);
        var (noiseOne, clippedOne, preClampOne, actionOne) = (Matrix(), Matrix(), Matrix(), Matrix());
        var (noiseTwo, clippedTwo, preClampTwo, actionTwo) = (Matrix(), Matrix(), Matrix(), Matrix());
        var stream = new DeviceRandom(23, 5);
        Device.NoisyAction(mean, noiseOne, stream.Take(noiseOne.Length), noiseStd, noiseClip, actionLimit, clippedOne, preClampOne, actionOne);
        Device.RandomNormal(noiseTwo, 23, 5);
        Device.Unary(UnaryOp.Affine, noiseTwo, clippedTwo, noiseStd, 0f);
        if (float.IsFinite(noiseClip)) Device.Unary(UnaryOp.Clamp, clippedTwo, clippedTwo, -noiseClip, noiseClip);
        Device.Binary(BinaryOp.Add, mean, clippedTwo, preClampTwo);
        if (float.IsFinite(actionLimit)) Device.Unary(UnaryOp.Clamp, preClampTwo, actionTwo, -actionLimit, actionLimit);
        else Device.Copy(preClampTwo, actionTwo);
        AssertBitwiseEqual(noiseTwo.ToArray(), noiseOne.ToArray(), "ε");
        AssertBitwiseEqual(clippedTwo.ToArray(), clippedOne.ToArray(), "clip(σε)");
        AssertBitwiseEqual(preClampTwo.ToArray(), preClampOne.ToArray(), "μ + n");
        AssertBitwiseEqual(actionTwo.ToArray(), actionOne.ToArray(), "action");
        Assert.Equal(5UL + rows * actionDim, stream.Counter);
        float[] clipped = clippedOne.ToArray(), action = actionOne.ToArray();
        Assert.All(clipped, v => Assert.True(MathF.Abs(v) <= noiseClip));
        Assert.All(action, v => Assert.True(MathF.Abs(v) <= actionLimit));
        if (float.IsFinite(actionLimit)) Assert.Contains(action, v => MathF.Abs(v) == actionLimit);
        // Refused: an output over the mean, a bad σ, clip or limit, a shape that does not match.
        var draw = new PhiloxDraw(1, 0);
        Assert.Throws<ArgumentException>(() => Device.NoisyAction(mean, noiseOne, draw, 0.1f, 0.5f, 1f, clippedOne, preClampOne, mean));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.NoisyAction(mean, noiseOne, draw, -0.1f, 0.5f, 1f, clippedOne, preClampOne, actionOne));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.NoisyAction(mean, noiseOne, draw, 0.1f, 0f, 1f, clippedOne, preClampOne, actionOne));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.NoisyAction(mean, noiseOne, draw, 0.1f, 0.5f, float.NaN, clippedOne, preClampOne, actionOne));
        Assert.Throws<ArgumentException>(() => Device.NoisyAction(mean, Device.Allocate(rows, actionDim + 1), draw, 0.1f, 0.5f, 1f, clippedOne, preClampOne, actionOne));
    }

    [Fact]
    public void TanhGaussianSampleRejectsBadShapesAndOverlaps()
    {
        var head = Upload(RandomValues(12, 1), 2, 6); var noise = Upload(RandomValues(6, 2), 2, 3);
        var m = Upload([1f], 1); var o = Upload([0f], 1);
        var action = Device.Allocate(2, 3); var stdNoise = Device.Allocate(2, 3); var logProb = Device.Allocate(2);
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSample(head, noise, m, o, -20f, 2f, Device.Allocate(2, 4), stdNoise, logProb));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSample(head, noise, m, o, -20f, 2f, action, stdNoise, Device.Allocate(3)));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSample(head, noise, m, o, -20f, 2f, noise, stdNoise, logProb));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.TanhGaussianSample(head, noise, m, o, 2f, -20f, action, stdNoise, logProb));
        Device.TanhGaussianSample(head, noise, m, o, -20f, 2f, action, stdNoise, logProb);
        var headGradient = Device.Allocate(2, 6); var dm = Device.Allocate(1); var dO = Device.Allocate(1);
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSampleBackward(head, m, o, -20f, 2f, action, stdNoise, null, null, headGradient, dm, dO));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSampleBackward(head, m, o, -20f, 2f, action, stdNoise, null, logProb, head, dm, dO));
        Assert.Throws<ArgumentException>(() => Device.TanhGaussianSampleBackward(head, m, o, -20f, 2f, action, stdNoise, null, Device.Allocate(5), headGradient, dm, dO));
    }

    // ───────────────────────────── optimisation ─────────────────────────────

    [Theory]
    [InlineData(1)]
    [InlineData(4097)]
    public void AdamMatchesReferenceOverSteps(int n)
    {
        var p = RandomValues(n, 1); var m = new float[n]; var v = new float[n];
        // Size of the terms that make up m: β1·|m| + (1 − β1)·|g| at each step.
        var mTermScale = new float[n];
        var tp = Upload(p); var tm = Device.Allocate(n); var tv = Device.Allocate(n);
        for (int step = 1; step <= 3; step++)
        {
            var g = RandomValues(n, 10 + step);
            Device.Adam(tp, Upload(g), tm, tv, 3e-4f, 0.9f, 0.999f, 1e-8f, step);
            float stepSize = (float)(3e-4 / (1.0 - Math.Pow(0.9, step)));
            float rootBiasCorrection2 = (float)Math.Sqrt(1.0 - Math.Pow(0.999, step));
            AdamReference.Step(p, g, m, v, stepSize, 0.9f, 0.999f, 1e-8f, rootBiasCorrection2);
            for (int i = 0; i < n; i++) mTermScale[i] = 0.9f * mTermScale[i] + 0.1f * MathF.Abs(g[i]);
        }
        AssertClose(p, tp.ToArray(), 1e-6f, 1e-7f, "Adam parameters");
        // A GPU may fuse β1·m + (1 − β1)·g into one FMA (CUDA does); the rounding then differs by up to an ulp of
        // the larger term, which is large beside m wherever the terms cancel. So m is held to 10⁻⁶ of its terms'
        // size (about 8 ulps), not of its own (measured on an H200: 2.7·10⁻⁹ off where m = 1.5·10⁻³).
        var deviceM = tm.ToArray();
        for (int i = 0; i < n; i++)
            Assert.True(MathF.Abs(deviceM[i] - m[i]) <= 1e-6f * mTermScale[i] + 1e-12f,
                $"Adam first moment: element {i} of {n} is {deviceM[i]:R}, expected {m[i]:R} (terms of size {mTermScale[i]:G3})");
        AssertClose(v, tv.ToArray(), 1e-6f, 1e-12f, "Adam second moment");
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.Adam(tp, tp, tm, tv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4097)]
    public void AdamThenPolyakEqualsAdamThenPolyakBitForBit(int n)
    {
        // A critic's step and its target update, fused and as the two calls, over three steps.
        var start = RandomValues(n, 21);
        var targetStart = RandomValues(n, 22);
        Tensor pOne = Upload(start), pTwo = Upload(start), targetOne = Upload(targetStart), targetTwo = Upload(targetStart);
        Tensor mOne = Device.Allocate(n), vOne = Device.Allocate(n), mTwo = Device.Allocate(n), vTwo = Device.Allocate(n);
        for (int step = 1; step <= 3; step++)
        {
            var g = Upload(RandomValues(n, 30 + step));
            Device.AdamThenPolyak(pOne, g, mOne, vOne, 3e-4f, 0.9f, 0.999f, 1e-8f, step, targetOne, 0.005f);
            Device.Adam(pTwo, g, mTwo, vTwo, 3e-4f, 0.9f, 0.999f, 1e-8f, step);
            Device.Polyak(targetTwo, pTwo, 0.005f);
        }
        AssertBitwiseEqual(pTwo.ToArray(), pOne.ToArray(), "parameters");
        AssertBitwiseEqual(mTwo.ToArray(), mOne.ToArray(), "first moment");
        AssertBitwiseEqual(vTwo.ToArray(), vOne.ToArray(), "second moment");
        AssertBitwiseEqual(targetTwo.ToArray(), targetOne.ToArray(), "Polyak target");
        Assert.NotEqual(targetStart, targetOne.ToArray());
        // Refused: τ outside [0, 1], a target of another length, a target that is the parameters or their moments, step 0.
        var gradient = Upload(RandomValues(n, 40));
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.AdamThenPolyak(pOne, gradient, mOne, vOne, 3e-4f, 0.9f, 0.999f, 1e-8f, 4, targetOne, 1.5f));
        Assert.Throws<ArgumentException>(() => Device.AdamThenPolyak(pOne, gradient, mOne, vOne, 3e-4f, 0.9f, 0.999f, 1e-8f, 4, Device.Allocate(n + 1), 0.005f));
        Assert.Contains("overlap", Assert.Throws<ArgumentException>(() =>
            Device.AdamThenPolyak(pOne, gradient, mOne, vOne, 3e-4f, 0.9f, 0.999f, 1e-8f, 4, mOne, 0.005f)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.AdamThenPolyak(pOne, gradient, mOne, vOne, 3e-4f, 0.9f, 0.999f, 1e-8f, 0, targetOne, 0.005f));
        AssertBitwiseEqual(pTwo.ToArray(), pOne.ToArray(), "parameters after the refused calls");
    }

    [Fact]
    public void PolyakMatchesReference()
    {
        var target = RandomValues(257, 1); var source = RandomValues(257, 2);
        var tt = Upload(target);
        Device.Polyak(tt, Upload(source), 0.005f);
        PolyakReference.Update(target, source, 0.005f);
        AssertClose(target, tt.ToArray(), 1e-6f, 1e-8f, "Polyak");
    }

    [Theory]
    [InlineData(1, 0.1f)]
    [InlineData(257, 100f)]
    [InlineData(66049, 1f)]
    public void ClipGradientNormMatchesReference(int n, float maxNorm)
    {
        var g = RandomValues(n, n);
        var tg = Upload(g);
        var norm = Device.Allocate(1);
        Device.ClipGradientNorm(tg, maxNorm, norm);
        float expectedNorm = GradNormReference.Clip(g, maxNorm);
        AssertClose([expectedNorm], norm.ToArray(), 1e-5f, 0f, "gradient norm");
        AssertClose(g, tg.ToArray(), 2e-5f, 1e-9f, "clipped gradients");
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.ClipGradientNorm(tg, 0f, norm));
    }

    // ───────────────────────────── sampling ─────────────────────────────

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 3)]
    [InlineData(257, 11)]
    public void GatherRowsMatchesReference(int count, int cols)
    {
        int rows = 300;
        var source = RandomValues(rows * cols, 1);
        var indexValues = Enumerable.Range(0, count).Select(i => (i * 37 + 5) % rows).ToArray();
        var indices = Device.AllocateIndices(count);
        Device.UploadIndices(indexValues, indices);
        var destination = Device.Allocate(count, cols);
        Device.GatherRows(Upload(source, rows, cols), indices, destination);
        var expected = new float[count * cols];
        GatherReference.Rows(source, cols, indexValues, expected);
        Assert.Equal(expected, destination.ToArray());
        Assert.Throws<ArgumentException>(() => Device.GatherRows(Upload(source, rows, cols), indices, Device.Allocate(count, cols + 1)));
    }

    [Theory]
    [InlineData(1, 0ul, 0f, 1f)]
    [InlineData(257, 1ul << 40, -2f, 3f)]
    [InlineData(4099, 12345ul, -1f, 1f)]
    public void RandomUniformIsBitIdenticalToReference(int n, ulong counter, float low, float high)
    {
        var x = Device.Allocate(n);
        Device.RandomUniform(x, 0x5EED_0000_0001ul, counter, low, high);
        var expected = new float[n];
        RandomReference.Uniform(expected, 0x5EED_0000_0001ul, counter, low, high);
        AssertBitwiseEqual(expected, x.ToArray(), "uniform draws");
    }

    /// <summary>Absolute tolerance of a normal draw z: device log/sqrt/cos may differ from .NET's by a few ulps.</summary>
    protected static float NormalTolerance(float z) => 4e-6f * (1f + MathF.Abs(z));

    [Theory]
    [InlineData(1, 0ul)]
    [InlineData(4099, 777ul)]
    public void RandomNormalMatchesReference(int n, ulong counter)
    {
        var x = Device.Allocate(n);
        Device.RandomNormal(x, 42ul, counter, 0.5f, 2f);
        var expected = new float[n];
        RandomReference.Normal(expected, 42ul, counter, 0.5f, 2f);
        var actual = x.ToArray();
        for (int i = 0; i < n; i++)
            Assert.True(MathF.Abs(actual[i] - expected[i]) <= 2f * NormalTolerance((expected[i] - 0.5f) / 2f),
                $"normal draw {i}: {actual[i]:R}, expected {expected[i]:R}");
    }

    [Theory]
    [InlineData(1, 1, 0)]
    [InlineData(257, 1000, 5)]
    [InlineData(4099, 3, -2)]
    public void RandomIndicesAreIdenticalToReference(int n, int count, int offset)
    {
        var indices = Device.AllocateIndices(n);
        Device.RandomIndices(indices, 9ul, 100ul, count, offset);
        var expected = new int[n];
        RandomReference.Indices(expected, 9ul, 100ul, count, offset);
        Assert.Equal(expected, indices.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => Device.RandomIndices(indices, 9ul, 100ul, 0));
    }

    // ───────────────────────────── validation and ownership ─────────────────────────────

    [Fact]
    public void LengthMismatchesThrowWithTheShapes()
    {
        var error = Assert.Throws<ArgumentException>(() => Device.Copy(Device.Allocate(2, 3), Device.Allocate(7)));
        Assert.Contains("[2, 3]", error.Message);
        Assert.Throws<ArgumentException>(() => Device.Upload(new float[5], Device.Allocate(4)));
        Assert.Throws<ArgumentException>(() => Device.Download(Device.Allocate(4), new float[3]));
        Assert.Throws<ArgumentException>(() => Device.Select(Device.Allocate(4), Device.Allocate(4), Device.Allocate(3), Device.Allocate(4)));
        Assert.Throws<ArgumentException>(() => Device.Polyak(Device.Allocate(4), Device.Allocate(5), 0.1f));
        Assert.Throws<ArgumentException>(() => Device.RowSum(Device.Allocate(4, 2), Device.Allocate(3)));
    }
}
