using System.Runtime.Intrinsics;
using Xunit;

namespace O2RL.Kernels.Tests.Gemm;

/// <summary>GemmCpu against GemmReference over awkward shapes, every transpose, epilogue and kernel.</summary>
public sealed unsafe class GemmCpuTests : IDisposable
{
    readonly WorkerPool twoThreads = new(2);
    readonly WorkerPool threeThreads = new(3);

    public void Dispose()
    {
        twoThreads.Dispose();
        threeThreads.Dispose();
    }

    static readonly int[] OddSizes = [1, 3, 17];

    public static IEnumerable<TheoryDataRow<int, int, int>> SmallShapes()
    {
        foreach (int m in OddSizes)
            foreach (int n in OddSizes)
                foreach (int k in OddSizes)
                    yield return new(m, n, k);
    }

    public static IEnumerable<TheoryDataRow<int, int, int>> LargeShapes() =>
    [
        new(256, 256, 256), new(255, 257, 17), new(257, 255, 256), new(17, 257, 255), new(257, 17, 257),
        new(1, 257, 255), new(255, 1, 257), new(256, 256, 1), new(3, 255, 257), new(257, 3, 1), new(256, 1, 256),
        new(1, 256, 17), new(19, 37, 600), new(6, 16, 800), new(256, 17, 256), new(257, 6, 64), new(20, 33, 300),
        // Several blocks of packed B (N past one L2 block) with one and with several K blocks.
        new(20, 300, 500), new(9, 260, 300),
    ];

    internal static GemmCpu.Kernel[] AvailableKernels() =>
        GemmCpu.BestKernel == GemmCpu.Kernel.Avx2Fma ? [GemmCpu.Kernel.Portable, GemmCpu.Kernel.Avx2Fma] : [GemmCpu.Kernel.Portable];

    [Theory]
    [MemberData(nameof(SmallShapes))]
    public void SmallShapesMatchReferenceForEveryTransposeAndKernel(int m, int n, int k)
    {
        foreach (GemmCpu.Kernel kernel in AvailableKernels())
            for (int transposes = 0; transposes < 4; transposes++)
            {
                CheckAgainstReference(kernel, (transposes & 1) != 0, (transposes & 2) != 0, m, n, k,
                    alpha: 1.5f, beta: 0f, withBias: true, Activation.Identity, pool: null, seed: m * 1000 + n * 10 + k);
                CheckAgainstReference(kernel, (transposes & 1) != 0, (transposes & 2) != 0, m, n, k,
                    alpha: -0.5f, beta: 1f, withBias: false, Activation.Relu, pool: null, seed: m * 1000 + n * 10 + k + 1);
            }
    }

    [Theory]
    [MemberData(nameof(LargeShapes))]
    public void LargeShapesMatchReferenceForEveryTranspose(int m, int n, int k)
    {
        for (int transposes = 0; transposes < 4; transposes++)
        {
            CheckAgainstReference(GemmCpu.BestKernel, (transposes & 1) != 0, (transposes & 2) != 0, m, n, k,
                alpha: 1f, beta: transposes == 2 ? 1f : 0f, withBias: transposes != 1, Activation.Identity, twoThreads, seed: transposes);
        }
    }

    [Theory]
    [InlineData(Activation.Identity)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Tanh)]
    public void EpilogueAppliesAlphaBetaBiasAndActivation(Activation activation)
    {
        foreach (GemmCpu.Kernel kernel in AvailableKernels())
            foreach (float beta in new[] { 0f, 1f, -0.75f })
                foreach (bool withBias in new[] { false, true })
                {
                    // 37×48 and 31×35 tile C directly; 13×40 and 33×6 are computed as Cᵀ (narrow last panel), 33×6
                    // and 40×19 with matrix–vector leftover columns; k = 600 also exercises several K blocks;
                    // 1×40 and 40×1 take the matrix–vector path.
                    CheckAgainstReference(kernel, true, false, 37, 48, 50, 0.8f, beta, withBias, activation, twoThreads, seed: 6);
                    CheckAgainstReference(kernel, false, true, 37, 48, 600, 0.8f, beta, withBias, activation, null, seed: 5);
                    // α = 1 with β ∈ {0, 1} and identity/ReLU takes the fused store.
                    CheckAgainstReference(kernel, false, false, 37, 48, 50, 1f, beta, withBias, activation, null, seed: 14);
                    CheckAgainstReference(kernel, true, true, 37, 48, 700, 1f, beta, withBias, activation, twoThreads, seed: 15);
                    CheckAgainstReference(kernel, false, true, 31, 35, 40, 0.8f, beta, withBias, activation, null, seed: 7);
                    CheckAgainstReference(kernel, false, false, 33, 6, 40, 0.8f, beta, withBias, activation, null, seed: 12);
                    CheckAgainstReference(kernel, true, true, 40, 19, 50, 0.8f, beta, withBias, activation, twoThreads, seed: 13);
                    CheckAgainstReference(kernel, true, false, 13, 40, 600, 0.3f, beta, withBias, activation, twoThreads, seed: 8);
                    CheckAgainstReference(kernel, false, false, 1, 40, 20, 1.2f, beta, withBias, activation, null, seed: 9);
                    CheckAgainstReference(kernel, true, true, 40, 1, 20, 1.2f, beta, withBias, activation, null, seed: 10);
                }
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Tanh)]
    public void BackwardEpilogueMatchesReferenceAndEqualsGemmThenActivationBackward(Activation activation)
    {
        foreach (GemmCpu.Kernel kernel in AvailableKernels())
            foreach (float beta in new[] { 0f, 1f, -0.75f })
            {
                // The same paths as the forward epilogue: fused full tiles (α = 1), the tile buffer, ragged tiles,
                // Cᵀ (33×6), matrix–vector leftover columns (40×19), several K blocks (k = 600), matrix–vector
                // products (1×40, 40×1), and the input gradient of a hidden layer split over two threads.
                CheckBackwardEpilogue(kernel, false, false, 37, 48, 50, 1f, beta, activation, null, seed: 21);
                CheckBackwardEpilogue(kernel, true, true, 37, 48, 700, 1f, beta, activation, twoThreads, seed: 22);
                CheckBackwardEpilogue(kernel, true, false, 37, 48, 50, 0.8f, beta, activation, twoThreads, seed: 23);
                CheckBackwardEpilogue(kernel, false, true, 31, 35, 40, 0.8f, beta, activation, null, seed: 24);
                CheckBackwardEpilogue(kernel, false, false, 33, 6, 40, 0.8f, beta, activation, null, seed: 25);
                CheckBackwardEpilogue(kernel, true, true, 40, 19, 50, 1f, beta, activation, twoThreads, seed: 26);
                CheckBackwardEpilogue(kernel, true, false, 13, 40, 600, 0.3f, beta, activation, twoThreads, seed: 27);
                CheckBackwardEpilogue(kernel, false, false, 1, 40, 20, 1.2f, beta, activation, null, seed: 28);
                CheckBackwardEpilogue(kernel, true, true, 40, 1, 20, 1.2f, beta, activation, null, seed: 29);
                CheckBackwardEpilogue(kernel, false, false, 256, 256, 256, 1f, beta, activation, threeThreads, seed: 30);
            }
    }

    [Fact]
    public void BackwardEpilogueRefusesIdentityAndABias()
    {
        float[] a = new float[4], b = new float[4], c = new float[4], y = new float[4], bias = new float[2];
        fixed (float* pa = a, pb = b, pc = c, py = y, pbias = bias)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc, iy = (nint)py, ibias = (nint)pbias;
            Assert.Contains("Identity", Assert.Throws<ArgumentException>(() =>
                GemmCpu.Gemm(false, false, 2, 2, 2, 1f, (float*)ia, (float*)ib, 0f, (float*)ic, null, Activation.Identity, null, (float*)iy)).Message);
            Assert.Contains("no bias", Assert.Throws<ArgumentException>(() =>
                GemmCpu.Gemm(false, false, 2, 2, 2, 1f, (float*)ia, (float*)ib, 0f, (float*)ic, (float*)ibias, Activation.Relu, null, (float*)iy)).Message);
        }
    }

    /// <summary>
    /// C ← (α·op(A)·op(B) + β·C) ⊙ act′(Y) against the reference, and bit for bit against the unfused pair it
    /// replaces: the GEMM with an identity epilogue, then <see cref="ActivationCpu.Backward"/> in place.
    /// </summary>
    void CheckBackwardEpilogue(GemmCpu.Kernel kernel, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
        Activation activation, WorkerPool? pool, int seed)
    {
        var random = new Random(seed);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n), c = RandomArray(random, m * n);
        // Y as the forward pass leaves it: ReLU outputs are exactly 0 about half the time, Tanh outputs inside (−1, 1).
        float[] y = RandomArray(random, m * n);
        for (int i = 0; i < y.Length; i++) y[i] = activation == Activation.Relu ? MathF.Max(0f, y[i]) : MathF.Tanh(3f * y[i]);
        if (beta == 0f) c.AsSpan().Fill(float.NaN);
        float[] expected = (float[])c.Clone();
        GemmReference.Gemm(ta, tb, m, n, k, alpha, a, b, beta, expected, default, activation, y);
        float[] unfused = (float[])c.Clone();
        float[] original = (float[])c.Clone();
        string what = $"{kernel} ta={ta} tb={tb} m={m} n={n} k={k} α={alpha} β={beta} {activation}′";
        fixed (float* pa = a, pb = b, pc = c, py = y, pu = unfused)
        {
            GemmCpu.GemmWithKernel(kernel, ta, tb, m, n, k, alpha, pa, pb, beta, pc, null, activation, pool, py);
            GemmCpu.GemmWithKernel(kernel, ta, tb, m, n, k, alpha, pa, pb, beta, pu, null, Activation.Identity, pool);
            ActivationCpu.Backward(activation, py, pu, pu, m * n);
        }
        AssertClose(expected, c, Tolerance(k, a, b, alpha, beta, original, []), what);
        for (int i = 0; i < c.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(unfused[i]))
                Assert.Fail($"{what}: element {i} is {c[i]} fused but {unfused[i]} as GEMM then activation backward");
        }
    }

    [Fact]
    public void ZeroKLeavesOnlyBetaCAndBias()
    {
        CheckAgainstReference(GemmCpu.BestKernel, false, false, 7, 19, 0, 2f, 0.5f, true, Activation.Tanh, null, seed: 3);
        CheckAgainstReference(GemmCpu.BestKernel, true, true, 7, 19, 0, 2f, 0f, false, Activation.Relu, null, seed: 4);
    }

    [Fact]
    public void ResultsAreBitIdenticalWithAndWithoutThreadsAndRunToRun()
    {
        (int m, int n, int k)[] shapes = [(256, 256, 256), (255, 257, 17), (257, 17, 300), (17, 255, 257), (100, 40, 700), (256, 17, 256)];
        foreach ((int m, int n, int k) in shapes)
            for (int transposes = 0; transposes < 4; transposes++)
            {
                bool ta = (transposes & 1) != 0, tb = (transposes & 2) != 0;
                var random = new Random(m + n + k);
                float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n), bias = RandomArray(random, n);
                float[] c0 = RandomArray(random, m * n);
                float[] c1 = (float[])c0.Clone(), c2 = (float[])c0.Clone(), c3 = (float[])c0.Clone();
                Run(GemmCpu.BestKernel, ta, tb, m, n, k, 0.7f, a, b, 0.5f, c0, bias, Activation.Tanh, null);
                Run(GemmCpu.BestKernel, ta, tb, m, n, k, 0.7f, a, b, 0.5f, c1, bias, Activation.Tanh, twoThreads);
                Run(GemmCpu.BestKernel, ta, tb, m, n, k, 0.7f, a, b, 0.5f, c2, bias, Activation.Tanh, threeThreads);
                Run(GemmCpu.BestKernel, ta, tb, m, n, k, 0.7f, a, b, 0.5f, c3, bias, Activation.Tanh, twoThreads);
                Assert.Equal(c0, c1);
                Assert.Equal(c0, c2);
                Assert.Equal(c0, c3);
            }
    }

    [Fact]
    public void ShortKSplitsByRowStripsAndEitherSplitGivesTheSameBits()
    {
        // 256×256 outputs have 43 strips and 16 panels: K = 17 goes by strips, K = 256 by panels (and by panels
        // when the switch is off).
        Assert.False(GemmCpu.SplitsByPanels(strips: 43, panels: 16, k: 17, threads: 2));
        Assert.False(GemmCpu.SplitsByPanels(strips: 43, panels: 16, k: 1, threads: 2));
        Assert.True(GemmCpu.SplitsByPanels(strips: 43, panels: 16, k: 256, threads: 2));
        Assert.True(GemmCpu.SplitsByPanels(strips: 3, panels: 16, k: 17, threads: 2));   // too few strips to share
        bool saved = GemmCpu.ShortKByRowStrips;
        try
        {
            GemmCpu.ShortKByRowStrips = false;
            Assert.True(GemmCpu.SplitsByPanels(strips: 43, panels: 16, k: 17, threads: 2));
            // Forward with bias and ReLU (a first layer), and the ReLU-masked backward epilogue with K = 1 (a
            // one-output head's input gradient), on 2 and 3 threads with each split, against one thread.
            (int m, int n, int k, bool backward)[] cases = [(256, 256, 17, false), (255, 257, 23, false), (256, 256, 1, true), (130, 200, 48, true)];
            foreach ((int m, int n, int k, bool backward) in cases)
            {
                var random = new Random(m * 31 + k);
                float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n), bias = RandomArray(random, n);
                float[] y = RandomArray(random, m * n);
                float[] serial = new float[m * n];
                RunEither(a, b, bias, y, serial, m, n, k, backward, null);
                foreach (bool byRowStrips in new[] { false, true })
                    foreach (WorkerPool pool in new[] { twoThreads, threeThreads })
                    {
                        GemmCpu.ShortKByRowStrips = byRowStrips;
                        float[] parallel = new float[m * n];
                        parallel.AsSpan().Fill(float.NaN);
                        RunEither(a, b, bias, y, parallel, m, n, k, backward, pool);
                        Assert.Equal(serial, parallel);
                    }
            }
        }
        finally
        {
            GemmCpu.ShortKByRowStrips = saved;
        }

        static void RunEither(float[] a, float[] b, float[] bias, float[] y, float[] c, int m, int n, int k, bool backward, WorkerPool? pool)
        {
            fixed (float* pa = a, pb = b, pbias = bias, py = y, pc = c)
            {
                if (backward) GemmCpu.Gemm(false, false, m, n, k, 1f, pa, pb, 0f, pc, null, Activation.Relu, pool, py);
                else GemmCpu.Gemm(false, true, m, n, k, 1f, pa, pb, 0f, pc, pbias, Activation.Relu, pool);
            }
        }
    }

    [Fact]
    public void ConcurrentCallersSharingAPoolGetCorrectResults()
    {
        const int m = 70, n = 90, k = 50;
        var random = new Random(21);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n);
        float[] expected = new float[m * n];
        GemmReference.Gemm(false, true, m, n, k, 1f, a, b, 0f, expected, [], Activation.Identity);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var threads = new Thread[3];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                float[] c = new float[m * n];
                for (int repeat = 0; repeat < 50; repeat++)
                {
                    Run(GemmCpu.BestKernel, false, true, m, n, k, 1f, a, b, 0f, c, null, Activation.Identity, twoThreads);
                    for (int i = 0; i < c.Length; i++)
                        if (MathF.Abs(c[i] - expected[i]) > 1e-3f) failures.Enqueue($"element {i}: {c[i]} vs {expected[i]}");
                }
            });
            threads[t].Start();
        }
        foreach (Thread thread in threads) thread.Join();
        Assert.Empty(failures);
    }

    [Fact]
    public void BatchedMatchesReferenceWithSharedAndPerBatchOperands()
    {
        const int batch = 3, m = 37, n = 21, k = 19;
        var random = new Random(11);
        float[] sharedA = RandomArray(random, m * k);
        float[] b = RandomArray(random, batch * n * k);
        float[] bias = RandomArray(random, batch * n);
        float[] c = RandomArray(random, batch * m * n);
        float[] expected = (float[])c.Clone();
        for (int g = 0; g < batch; g++)
        {
            GemmReference.Gemm(false, true, m, n, k, 0.9f, sharedA, b.AsSpan(g * n * k, n * k), 0.25f,
                expected.AsSpan(g * m * n, m * n), bias.AsSpan(g * n, n), Activation.Relu);
        }
        fixed (float* pa = sharedA, pb = b, pc = c, pbias = bias)
        {
            GemmCpu.GemmBatched(batch, false, true, m, n, k, 0.9f, pa, 0, pb, n * k, 0.25f, pc, m * n, pbias, n,
                Activation.Relu, twoThreads);
        }
        AssertClose(expected, c, Tolerance(k, sharedA, b, 0.9f, 0.25f, c, bias));

        // Shared B and bias, per-batch A (e.g. one layer applied to several inputs).
        float[] a = RandomArray(random, batch * m * k);
        float[] sharedB = RandomArray(random, k * n);
        float[] c2 = new float[batch * m * n];
        c2.AsSpan().Fill(float.NaN);
        float[] expected2 = new float[batch * m * n];
        for (int g = 0; g < batch; g++)
        {
            GemmReference.Gemm(true, false, m, n, k, 1f, a.AsSpan(g * m * k, m * k), sharedB, 0f,
                expected2.AsSpan(g * m * n, m * n), bias.AsSpan(0, n), Activation.Identity);
        }
        fixed (float* pa = a, pb = sharedB, pc = c2, pbias = bias)
        {
            GemmCpu.GemmBatched(batch, true, false, m, n, k, 1f, pa, m * k, pb, 0, 0f, pc, m * n, pbias, 0,
                Activation.Identity, null);
        }
        AssertClose(expected2, c2, Tolerance(k, a, sharedB, 1f, 0f, c2, bias));
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 3)]
    public void BatchedWholeMembersPerThreadEqualOneThreadBitForBit(int threadCount, int batch)
    {
        // batch·m·n·k is above the parallel threshold and the threads divide the batch, so each thread takes whole members.
        const int m = 40, n = 37, k = 23;
        WorkerPool pool = threadCount == 2 ? twoThreads : threeThreads;
        var random = new Random(batch);
        float[] sharedA = RandomArray(random, m * k);
        float[] b = RandomArray(random, batch * n * k);
        float[] bias = RandomArray(random, batch * n);
        float[] start = RandomArray(random, batch * m * n);
        float[] expected = (float[])start.Clone();
        for (int g = 0; g < batch; g++)
        {
            GemmReference.Gemm(false, true, m, n, k, 1f, sharedA, b.AsSpan(g * n * k, n * k), 1f,
                expected.AsSpan(g * m * n, m * n), bias.AsSpan(g * n, n), Activation.Relu);
        }
        float[] parallel = (float[])start.Clone(), serial = (float[])start.Clone();
        fixed (float* pa = sharedA, pb = b, pbias = bias, pp = parallel, ps = serial)
        {
            GemmCpu.GemmBatched(batch, false, true, m, n, k, 1f, pa, 0, pb, n * k, 1f, pp, m * n, pbias, n, Activation.Relu, pool);
            GemmCpu.GemmBatched(batch, false, true, m, n, k, 1f, pa, 0, pb, n * k, 1f, ps, m * n, pbias, n, Activation.Relu, null);
        }
        AssertClose(expected, parallel, Tolerance(k, sharedA, b, 1f, 1f, start, bias));
        Assert.Equal(serial, parallel);
    }

    [Theory]
    [InlineData(96, 96, 96, 96, 96, 96, true)]      // balanced and large: side by side, one GEMM per thread
    [InlineData(96, 96, 96, 96, 17, 96, false)]     // unbalanced: one after the other, each split over the pool
    [InlineData(20, 20, 20, 96, 96, 96, false)]     // one below the parallel threshold
    public void PairsEqualTwoSingleGemmsBitForBit(int m1, int n1, int k1, int m2, int n2, int k2, bool sideBySide)
    {
        Assert.Equal(sideBySide, GemmCpu.WorthRunningSideBySide((long)m1 * n1 * k1, (long)m2 * n2 * k2));
        var random = new Random(m2 * 7 + n2);
        // The layer-backward pattern: dW += δzᵀ·x (transposed A, β = 1) beside dx = ReLU-free δz·W (plain, β = 0) with a bias.
        float[] a1 = RandomArray(random, k1 * m1), b1 = RandomArray(random, k1 * n1), start1 = RandomArray(random, m1 * n1);
        float[] a2 = RandomArray(random, m2 * k2), b2 = RandomArray(random, k2 * n2), bias2 = RandomArray(random, n2);
        float[] expected1 = (float[])start1.Clone(), expected2 = new float[m2 * n2];
        GemmReference.Gemm(true, false, m1, n1, k1, 1f, a1, b1, 1f, expected1, [], Activation.Identity);
        GemmReference.Gemm(false, false, m2, n2, k2, 0.5f, a2, b2, 0f, expected2, bias2, Activation.Tanh);
        foreach (WorkerPool? pool in new[] { twoThreads, threeThreads, null })
        {
            float[] pair1 = (float[])start1.Clone(), pair2 = new float[m2 * n2], single1 = (float[])start1.Clone(), single2 = new float[m2 * n2];
            pair2.AsSpan().Fill(float.NaN);
            fixed (float* pa1 = a1, pb1 = b1, pa2 = a2, pb2 = b2, pbias2 = bias2, pc1 = pair1, pc2 = pair2, ps1 = single1, ps2 = single2)
            {
                var first = new GemmCall { TransposeA = true, M = m1, N = n1, K = k1, Alpha = 1f, Beta = 1f, A = pa1, B = pb1, C = pc1 };
                var second = new GemmCall { M = m2, N = n2, K = k2, Alpha = 0.5f, A = pa2, B = pb2, C = pc2, Bias = pbias2, Activation = Activation.Tanh };
                GemmCpu.GemmPair(first, second, pool);
                GemmCpu.Gemm(true, false, m1, n1, k1, 1f, pa1, pb1, 1f, ps1, null, Activation.Identity, null);
                GemmCpu.Gemm(false, false, m2, n2, k2, 0.5f, pa2, pb2, 0f, ps2, pbias2, Activation.Tanh, null);
            }
            AssertClose(expected1, pair1, Tolerance(k1, a1, b1, 1f, 1f, start1, []));
            AssertClose(expected2, pair2, Tolerance(k2, a2, b2, 0.5f, 0f, expected2, bias2));
            Assert.Equal(single1, pair1);
            Assert.Equal(single2, pair2);
        }
    }

    [Fact]
    public void AnInvalidGemmOfAPairThrowsBeforeEitherRuns()
    {
        float[] buffer = new float[16];
        fixed (float* p = buffer)
        {
            var valid = new GemmCall { M = 2, N = 2, K = 2, Alpha = 1f, A = p, B = p + 4, C = p + 8 };
            var invalid = valid with { M = -3 };
            Assert.Contains("m = -3", Assert.Throws<ArgumentOutOfRangeException>(() => GemmCpu.GemmPair(valid, invalid, twoThreads)).Message);
        }
        Assert.All(buffer, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void InvalidArgumentsThrowWithTheOffendingValues()
    {
        float[] buffer = new float[16];
        fixed (float* p = buffer)
        {
            float* q = p;
            var negative = Assert.Throws<ArgumentOutOfRangeException>(() =>
                GemmCpu.Gemm(false, false, -1, 2, 2, 1f, q, q, 0f, q, null, Activation.Identity, null));
            Assert.Contains("m = -1", negative.Message);
            Assert.Throws<ArgumentNullException>(() =>
                GemmCpu.Gemm(false, false, 2, 2, 2, 1f, null, q, 0f, q, null, Activation.Identity, null));
            Assert.Throws<ArgumentOutOfRangeException>(() =>
                GemmCpu.Gemm(false, false, 2, 2, 2, 1f, q, q, 0f, q, null, (Activation)9, null));
            Assert.Throws<ArgumentException>(() =>
                GemmCpu.GemmBatched(2, false, false, 2, 2, 2, 1f, q, 4, q, 4, 0f, q, 3, null, 0, Activation.Identity, null));
        }
    }

    [Fact]
    public void VectorTanhMatchesMathFTanh()
    {
        float[] inputs = new float[4096];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = (i - 2048) / 200f;
        inputs[0] = 1e-7f; inputs[1] = -3e-5f; inputs[2] = 0.1249f; inputs[3] = 0.1251f; inputs[4] = 90f; inputs[5] = -90f; inputs[6] = 0f;
        for (int i = 0; i < inputs.Length; i += 8)
        {
            Vector256<float> result = SimdMath.Tanh(Vector256.Create(inputs, i));
            for (int lane = 0; lane < 8; lane++)
            {
                float x = inputs[i + lane];
                float expected = MathF.Tanh(x);
                Assert.True(MathF.Abs(result[lane] - expected) <= 4e-7f * MathF.Max(MathF.Abs(expected), 1e-30f) + 1e-38f,
                    $"tanh({x}) = {result[lane]} but MathF.Tanh gives {expected}");
            }
        }
        Assert.True(float.IsNaN(SimdMath.Tanh(Vector256.Create(float.NaN))[0]));
    }

    void CheckAgainstReference(GemmCpu.Kernel kernel, bool ta, bool tb, int m, int n, int k, float alpha, float beta,
        bool withBias, Activation activation, WorkerPool? pool, int seed)
    {
        var random = new Random(seed);
        float[] a = RandomArray(random, m * k), b = RandomArray(random, k * n);
        float[] bias = withBias ? RandomArray(random, n) : [];
        float[] c = RandomArray(random, m * n);
        // With β = 0 whatever C holds must be ignored, NaN included.
        if (beta == 0f) c.AsSpan().Fill(float.NaN);
        float[] expected = (float[])c.Clone();
        GemmReference.Gemm(ta, tb, m, n, k, alpha, a, b, beta, expected, bias, activation);
        float[] original = (float[])c.Clone();
        Run(kernel, ta, tb, m, n, k, alpha, a, b, beta, c, withBias ? bias : null, activation, pool);
        AssertClose(expected, c, Tolerance(k, a, b, alpha, beta, original, bias),
            $"{kernel} ta={ta} tb={tb} m={m} n={n} k={k} α={alpha} β={beta} bias={withBias} {activation}");
    }

    static void Run(GemmCpu.Kernel kernel, bool ta, bool tb, int m, int n, int k, float alpha, float[] a, float[] b,
        float beta, float[] c, float[]? bias, Activation activation, WorkerPool? pool)
    {
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            GemmCpu.GemmWithKernel(kernel, ta, tb, m, n, k, alpha, pa, pb, beta, pc, bias is null ? null : pbias, activation, pool);
        }
    }

    static float[] RandomArray(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    static float MaxAbs(float[] values)
    {
        float max = 0f;
        foreach (float v in values) if (!float.IsNaN(v)) max = MathF.Max(max, MathF.Abs(v));
        return max;
    }

    /// <summary>Float rounding error scales with K·max|a|·max|b| (plus the β·C and bias terms).</summary>
    static float Tolerance(int k, float[] a, float[] b, float alpha, float beta, float[] c, float[] bias) =>
        2e-6f * (Math.Max(k, 1) * MathF.Abs(alpha) * MaxAbs(a) * MaxAbs(b) + MathF.Abs(beta) * MaxAbs(c) + MaxAbs(bias) + 1f);

    static void AssertClose(float[] expected, float[] actual, float tolerance, string what = "")
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float difference = MathF.Abs(expected[i] - actual[i]);
            if (!(difference <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]} but the reference gives {expected[i]} (tolerance {tolerance})");
        }
    }
}
