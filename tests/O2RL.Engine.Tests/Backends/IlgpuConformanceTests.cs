using O2RL.Kernels;
using Xunit;

namespace O2RL.Engine.Tests.Backends;

/// <summary>
/// Backends shared by every test of one class: creating an ILGPU accelerator and compiling its kernels takes
/// seconds, so each device is opened once per test run (xunit runs the tests of one class one at a time).
/// </summary>
static class SharedIlgpuBackends
{
    static readonly Lazy<(IlgpuBackend? Backend, string Reason)> IlgpuCpu = new(() => Open("ilgpu-cpu", null));
    static readonly Lazy<(IlgpuBackend? Backend, string Reason)> OpenCl = new(() =>
        Open("opencl", new DeviceOptions { AllowOpenClWithoutGenericAddressSpace = true }));
    static readonly Lazy<(IlgpuBackend? Backend, string Reason)> Cuda = new(() => Open("cuda", null));

    static (IlgpuBackend?, string) Open(string device, DeviceOptions? options)
    {
        try
        {
            return ((IlgpuBackend)Devices.Create(device, options), "");
        }
        catch (InvalidOperationException absent)
        {
            return (null, absent.Message);
        }
    }

    public static IlgpuBackend Get(DeviceKind kind)
    {
        var (backend, reason) = kind switch
        {
            DeviceKind.IlgpuCpu => IlgpuCpu.Value,
            DeviceKind.OpenCL => OpenCl.Value,
            _ => Cuda.Value,
        };
        // CUDA is never required (CI has no GPU); OpenCL is, where CI installed PoCL.
        if (kind == DeviceKind.OpenCL) O2RL.Tests.Shared.RequiredTestLibraries.SkipWhenAbsent("opencl", backend is null, $"{kind} device absent: {reason}");
        if (backend is null) Assert.Skip($"{kind} device absent: {reason}");
        return backend;
    }
}

/// <summary>Checks that only ILGPU backends need: both GEMM kernels on their own, launch counts, repeatability.</summary>
public abstract class IlgpuConformanceTests : BackendConformanceTests
{
    protected abstract DeviceKind Kind { get; }

    protected override Backend CreateBackend() => SharedIlgpuBackends.Get(Kind);

    protected override bool OwnsBackend => false;

    IlgpuBackend Ilgpu => (IlgpuBackend)Device;

    [Theory]
    [InlineData(IlgpuBackend.GemmKernel.Naive)]
    [InlineData(IlgpuBackend.GemmKernel.Tiled)]
    [InlineData(IlgpuBackend.GemmKernel.TiledSmall)]
    [InlineData(IlgpuBackend.GemmKernel.TiledTiny)]
    [InlineData(IlgpuBackend.GemmKernel.SplitK)]
    public void EachGemmKernelMatchesReference(IlgpuBackend.GemmKernel kernel)
    {
        var backend = Ilgpu;
        backend.ForcedGemmKernel = kernel;
        try
        {
            foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 17, 5), (17, 33, 19), (Math.Min(65, MaxGemmDim), 31, 70), (4, 5, 0) })
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                    {
                        var a = RandomValues(m * k, m + k); var b = RandomValues(k * n, n + k); var c0 = RandomValues(m * n, 3);
                        var bias = RandomValues(2 * n, 4);
                        var c = Upload([.. c0, .. c0], 2, m, n);
                        backend.Gemm(Upload(a, ta ? [k, m] : [m, k]), ta, Upload([.. b, .. b], tb ? [2, n, k] : [2, k, n]), tb, c,
                            alpha: -1.25f, beta: 0.5f, bias: Upload(bias, 2, n), activation: Activation.Tanh);
                        var expected = new float[2 * m * n];
                        for (int e = 0; e < 2; e++)
                        {
                            c0.CopyTo(expected, e * m * n);
                            GemmReference.Gemm(ta, tb, m, n, k, -1.25f, a, b, 0.5f, expected.AsSpan(e * m * n, m * n), bias.AsSpan(e * n, n), Activation.Tanh);
                        }
                        AssertClose(expected, c.ToArray(), 1e-5f, 2e-6f * k + 1e-6f, $"{kernel} GEMM [{m}, {n}, {k}] tA={ta} tB={tb}");

                        // The backward epilogue, (α·AB + β·C) ⊙ ReLU′(Y), with Y per member in the bias slot.
                        var y = RandomValues(2 * m * n, 5, -2f, 2f).Select(v => MathF.Max(0f, v)).ToArray();
                        var cBackward = Upload([.. c0, .. c0], 2, m, n);
                        backend.Gemm(Upload(a, ta ? [k, m] : [m, k]), ta, Upload([.. b, .. b], tb ? [2, n, k] : [2, k, n]), tb, cBackward,
                            alpha: 0.75f, beta: 1f, activation: Activation.Relu, activationOutput: Upload(y, 2, m, n));
                        for (int e = 0; e < 2; e++)
                        {
                            c0.CopyTo(expected, e * m * n);
                            GemmReference.Gemm(ta, tb, m, n, k, 0.75f, a, b, 1f, expected.AsSpan(e * m * n, m * n), default, Activation.Relu, y.AsSpan(e * m * n, m * n));
                        }
                        AssertClose(expected, cBackward.ToArray(), 1e-5f, 2e-6f * k + 1e-6f, $"{kernel} GEMM backward epilogue [{m}, {n}, {k}] tA={ta} tB={tb}");
                    }
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
        }
    }

    [Fact]
    public void GemmKernelsAgreeBitForBit()
    {
        // The four unsplit kernels accumulate over k in increasing order with the same epilogue, so switching kernels by shape
        // never changes a result.
        var backend = Ilgpu;
        int m = Math.Min(70, MaxGemmDim), n = 45, k = 37;
        var a = Upload(RandomValues(m * k, 5), m, k); var b = Upload(RandomValues(k * n, 6), n, k); var bias = Upload(RandomValues(n, 7), n);
        float[]? first = null;
        try
        {
            foreach (var kernel in new[] { IlgpuBackend.GemmKernel.Naive, IlgpuBackend.GemmKernel.Tiled, IlgpuBackend.GemmKernel.TiledSmall, IlgpuBackend.GemmKernel.TiledTiny })
            {
                backend.ForcedGemmKernel = kernel;
                var c = backend.Allocate(m, n);
                backend.Gemm(a, false, b, true, c, bias: bias, activation: Activation.Relu);
                var values = c.ToArray();
                if (first is null) first = values;
                else AssertBitwiseEqual(first, values, $"{kernel} against the naive kernel");
            }
            // Split-k adds its slices' partial sums at the end: the same function, rounded in another order.
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.SplitK;
            var split = backend.Allocate(m, n);
            backend.Gemm(a, false, b, true, split, bias: bias, activation: Activation.Relu);
            AssertClose(first!, split.ToArray(), 1e-5f, 2e-6f * k, "split-k against the naive kernel");
            var again = backend.Allocate(m, n);
            backend.Gemm(a, false, b, true, again, bias: bias, activation: Activation.Relu);
            AssertBitwiseEqual(split.ToArray(), again.ToArray(), "split-k run twice");
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
        }
    }

    [Fact]
    public void FusedSplitKEqualsTheTwoLaunchSplitKBitForBit()
    {
        var backend = Ilgpu;
        if (!backend.FusedSplitK) Assert.Skip($"{Kind} runs split-k in two launches only");
        int m = Math.Min(MaxGemmDim, 33), n = Math.Min(MaxGemmDim, 20), k = 200;
        var a = Upload(RandomValues(m * k, 41), m, k);
        var b = Upload(RandomValues(n * k, 42), n, k);
        var bias = Upload(RandomValues(n, 43));
        var c0 = Upload(RandomValues(m * n, 44), m, n);
        var fused = Upload(c0.ToArray(), m, n);
        var twoLaunch = Upload(c0.ToArray(), m, n);
        try
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.SplitK;
            backend.Gemm(a, false, b, true, fused, alpha: 0.5f, beta: 1f, bias: bias, activation: Activation.Tanh);
            backend.FusedSplitK = false;
            backend.Gemm(a, false, b, true, twoLaunch, alpha: 0.5f, beta: 1f, bias: bias, activation: Activation.Tanh);
        }
        finally
        {
            backend.FusedSplitK = true;
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
        }
        AssertBitwiseEqual(twoLaunch.ToArray(), fused.ToArray(), "fused split-k against partials + finish");
        Assert.NotEqual(c0.ToArray(), fused.ToArray());
    }

    [Theory]
    [InlineData(null, IlgpuBackend.GemmKernel.Auto)]
    [InlineData(" Tiled-Small ", IlgpuBackend.GemmKernel.TiledSmall)]
    [InlineData("naive", IlgpuBackend.GemmKernel.Naive)]
    [InlineData("tiled", IlgpuBackend.GemmKernel.Tiled)]
    [InlineData("TILED-TINY", IlgpuBackend.GemmKernel.TiledTiny)]
    [InlineData("split-k", IlgpuBackend.GemmKernel.SplitK)]
    public void GemmKernelVariableNamesAKernel(string? value, IlgpuBackend.GemmKernel expected) =>
        Assert.Equal(expected, IlgpuBackend.ParseGemmKernel(value));

    [Fact]
    public void UnknownGemmKernelIsRefusedWithTheChoices()
    {
        var error = Assert.Throws<ArgumentException>(() => IlgpuBackend.ParseGemmKernel("fast"));
        Assert.Contains("auto, naive, tiled, tiled-small, tiled-tiny or split-k", error.Message);
    }

    [Theory]
    [InlineData(IlgpuBackend.GemmKernel.TiledTiny)]
    [InlineData(IlgpuBackend.GemmKernel.SplitK)]
    [InlineData(IlgpuBackend.GemmKernel.Auto)]
    public void AGemmPairInOneLaunchGivesTheBitsOfItsTwoGemms(IlgpuBackend.GemmKernel kernel)
    {
        // A batched layer backward: dW (+)= δzᵀ·x with a bias-free β = 1, and dx = (δz·W) ⊙ ReLU′(y) through the
        // backward epilogue; the two differ in every dimension, so their tiles, batch entries and slices interleave
        // differently in the one-dimensional grid of the pair kernel.
        var backend = Ilgpu;
        int batch = 2, rows = Math.Min(MaxGemmDim, 53), width = Math.Min(MaxGemmDim, 21), features = 37;
        var dz = Upload(RandomValues(batch * rows * width, 81), batch, rows, width);
        var x = Upload(RandomValues(batch * rows * features, 82), batch, rows, features);
        var w = Upload(RandomValues(batch * width * features, 83), batch, width, features);
        var y = Upload(RandomValues(batch * rows * features, 84, -1f, 1f).Select(v => MathF.Max(0f, v)).ToArray(), batch, rows, features);
        var start = RandomValues(batch * width * features, 85);
        try
        {
            backend.ForcedGemmKernel = kernel;
            var results = new List<(float[] Dw, float[] Dx, long Launches)>();
            foreach (bool oneLaunch in new[] { false, true })
            {
                backend.PairGemmsInOneLaunch = oneLaunch;
                var dw = Upload(start, batch, width, features);
                var dx = backend.Allocate(batch, rows, features);
                long before = backend.KernelLaunchCount;
                backend.GemmPair(new GemmRequest(dz, true, x, false, dw, Beta: 1f),
                    new GemmRequest(dz, false, w, false, dx, Activation: Activation.Relu, ActivationOutput: y));
                results.Add((dw.ToArray(), dx.ToArray(), backend.KernelLaunchCount - before));
            }
            AssertBitwiseEqual(results[0].Dw, results[1].Dw, $"{kernel}: weight gradient, pair in one launch against two GEMMs");
            AssertBitwiseEqual(results[0].Dx, results[1].Dx, $"{kernel}: input gradient, pair in one launch against two GEMMs");
            if (backend.FusedSplitK && kernel != IlgpuBackend.GemmKernel.Auto) Assert.Equal(1, results[1].Launches);
            var expected = new float[batch * rows * features];
            for (int e = 0; e < batch; e++)
                GemmReference.Gemm(false, false, rows, features, width, 1f, dz.ToArray().AsSpan(e * rows * width, rows * width).ToArray(),
                    w.ToArray().AsSpan(e * width * features, width * features).ToArray(), 0f, expected.AsSpan(e * rows * features, rows * features), default,
                    Activation.Relu, y.ToArray().AsSpan(e * rows * features, rows * features));
            AssertClose(expected, results[1].Dx, 1e-5f, 2e-6f * width + 1e-6f, $"{kernel}: input gradient of the pair against the reference");
            // Run again: the tile counters were left at 0, and the same bits come back.
            var dwAgain = Upload(start, batch, width, features);
            var dxAgain = backend.Allocate(batch, rows, features);
            backend.GemmPair(new GemmRequest(dz, true, x, false, dwAgain, Beta: 1f),
                new GemmRequest(dz, false, w, false, dxAgain, Activation: Activation.Relu, ActivationOutput: y));
            AssertBitwiseEqual(results[1].Dw, dwAgain.ToArray(), $"{kernel}: weight gradient of the pair run again");
            AssertBitwiseEqual(results[1].Dx, dxAgain.ToArray(), $"{kernel}: input gradient of the pair run again");
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
            backend.PairGemmsInOneLaunch = true;
        }
    }

    [Theory]
    [InlineData(IlgpuBackend.GemmKernel.TiledTiny, true)]
    [InlineData(IlgpuBackend.GemmKernel.SplitK, true)]
    [InlineData(IlgpuBackend.GemmKernel.SplitK, false)]
    [InlineData(IlgpuBackend.GemmKernel.Auto, true)]
    public void ALayersGradientsInOneLaunchGiveTheBitsOfTheirParts(IlgpuBackend.GemmKernel kernel, bool inputGradient)
    {
        // Linear's backward of a two-member ensemble: dW += δzᵀ·x, dx = (δz·W) ⊙ ReLU′(y) when asked, db += Σ_batch δz,
        // with the column sum's blocks behind the GEMMs' in the one-dimensional grid. 67 columns leave the last
        // column-sum block of each member part-filled.
        var backend = Ilgpu;
        int members = 2, rows = Math.Min(MaxGemmDim, 45), width = 67, features = Math.Min(MaxGemmDim, 19);
        var dz = Upload(RandomValues(members * rows * width, 91), members, rows, width);
        var x = Upload(RandomValues(members * rows * features, 92), members, rows, features);
        var w = Upload(RandomValues(members * width * features, 93), members, width, features);
        var y = Upload(RandomValues(members * rows * features, 94, -1f, 1f).Select(v => MathF.Max(0f, v)).ToArray(), members, rows, features);
        var startW = RandomValues(members * width * features, 95);
        var startB = RandomValues(members * width, 96);
        try
        {
            backend.ForcedGemmKernel = kernel;
            var results = new List<(float[] Dw, float[] Dx, float[] Db, long Launches)>();
            foreach (bool oneLaunch in new[] { false, true, true })
            {
                backend.PairGemmsInOneLaunch = oneLaunch;
                var dw = Upload(startW, members, width, features);
                var db = Upload(startB, members, width);
                var dx = backend.Allocate(members, rows, features);
                long before = backend.KernelLaunchCount;
                backend.GemmPairAndColumnSum(new GemmRequest(dz, true, x, false, dw, Beta: 1f),
                    inputGradient ? new GemmRequest(dz, false, w, false, dx, Activation: Activation.Relu, ActivationOutput: y) : null,
                    new ColumnSumRequest(dz, db, Beta: 1f));
                results.Add((dw.ToArray(), dx.ToArray(), db.ToArray(), backend.KernelLaunchCount - before));
            }
            for (int run = 1; run <= 2; run++)
            {
                string what = run == 1 ? "one launch against its parts" : "one launch run again (tile counters left at 0)";
                AssertBitwiseEqual(results[0].Dw, results[run].Dw, $"{kernel}: weight gradient, {what}");
                AssertBitwiseEqual(results[0].Dx, results[run].Dx, $"{kernel}: input gradient, {what}");
                AssertBitwiseEqual(results[0].Db, results[run].Db, $"{kernel}: bias gradient, {what}");
            }
            if (backend.FusedSplitK && kernel != IlgpuBackend.GemmKernel.Auto) Assert.Equal(1, results[1].Launches);
            if (backend.FusedSplitK && kernel != IlgpuBackend.GemmKernel.Auto) Assert.True(results[1].Launches < results[0].Launches, $"{kernel}: {results[1].Launches} launches fused against {results[0].Launches}");
            var expected = (float[])startB.Clone();
            ReduceReference.ColumnSum(members, rows, width, dz.ToArray(), expected, 1f, 1f);
            AssertClose(expected, results[1].Db, 1e-5f, 2e-6f * rows + 1e-6f, $"{kernel}: bias gradient against the reference");
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
            backend.PairGemmsInOneLaunch = true;
        }
    }

    [Fact]
    public void FusedStepOpsAreOneLaunchEachWithTheBitsOfTheirTwoParts()
    {
        // Adam then Polyak, the tanh-Gaussian sample drawing its noise and the noisy action: one launch each, or their parts with
        // O2RL_FUSE_STEP_OPS=0 (FuseStepOps off, for benchmarks), and the same bits either way.
        var backend = Ilgpu;
        const int n = 333, rows = 17, actionDim = 3;
        var start = RandomValues(n, 101); var targetStart = RandomValues(n, 102); var gradient = Upload(RandomValues(n, 103));
        var head = Upload(RandomValues(rows * 2 * actionDim, 104), rows, 2 * actionDim);
        var m = Upload([1f], 1); var o = Upload([0f], 1);
        var mean = Upload(RandomValues(rows * actionDim, 105, -1.2f, 1.2f), rows, actionDim);
        var results = new List<(float[] Parameters, float[] Target, float[] Noise, float[] Action, float[] LogProb, long AdamLaunches, long SampleLaunches,
            float[] NoisyAction, long NoisyActionLaunches)>();
        try
        {
            foreach (bool fused in new[] { false, true })
            {
                backend.FuseStepOps = fused;
                var parameters = Upload(start); var target = Upload(targetStart);
                long before = backend.KernelLaunchCount;
                backend.AdamThenPolyak(parameters, gradient, backend.Allocate(n), backend.Allocate(n), 1e-3f, 0.9f, 0.999f, 1e-8f, 1, target, 0.01f);
                long adamLaunches = backend.KernelLaunchCount - before;
                var noise = backend.Allocate(rows, actionDim); var action = backend.Allocate(rows, actionDim);
                var stdNoise = backend.Allocate(rows, actionDim); var logProb = backend.Allocate(rows);
                before = backend.KernelLaunchCount;
                backend.TanhGaussianSample(head, noise, new PhiloxDraw(5, 77), m, o, -20f, 2f, action, stdNoise, logProb);
                long sampleLaunches = backend.KernelLaunchCount - before;
                var smoothed = backend.Allocate(rows, actionDim);
                before = backend.KernelLaunchCount;
                backend.NoisyAction(mean, backend.Allocate(rows, actionDim), new PhiloxDraw(6, 78), 0.2f, 0.5f, 1f, backend.Allocate(rows, actionDim),
                    backend.Allocate(rows, actionDim), smoothed);
                long noisyActionLaunches = backend.KernelLaunchCount - before;
                results.Add((parameters.ToArray(), target.ToArray(), noise.ToArray(), action.ToArray(), logProb.ToArray(), adamLaunches, sampleLaunches,
                    smoothed.ToArray(), noisyActionLaunches));
            }
        }
        finally
        {
            backend.FuseStepOps = true;
        }
        Assert.Equal((2L, 2L, 5L), (results[0].AdamLaunches, results[0].SampleLaunches, results[0].NoisyActionLaunches));
        Assert.Equal((1L, 1L, 1L), (results[1].AdamLaunches, results[1].SampleLaunches, results[1].NoisyActionLaunches));
        AssertBitwiseEqual(results[0].NoisyAction, results[1].NoisyAction, "noisy action");
        AssertBitwiseEqual(results[0].Parameters, results[1].Parameters, "Adam parameters");
        AssertBitwiseEqual(results[0].Target, results[1].Target, "Polyak target");
        AssertBitwiseEqual(results[0].Noise, results[1].Noise, "drawn noise");
        AssertBitwiseEqual(results[0].Action, results[1].Action, "sampled action");
        AssertBitwiseEqual(results[0].LogProb, results[1].LogProb, "log π");
        Assert.Contains("step_ops_fused=1", backend.GemmSettings);
    }

    [Fact]
    public void PanelDepthChangesWhenLoadsWaitNotTheBits()
    {
        // The one- and two-element kernels sum over k in increasing order whatever depth of k they stage at once,
        // so every allowed depth gives the same bits; a depth that is not a multiple of T, or past the shared
        // panels, is refused with the range.
        var backend = Ilgpu;
        int t = backend.GemmTileThreads;
        int m = Math.Min(MaxGemmDim, 37), n = Math.Min(MaxGemmDim, 29), k = 203;
        var a = Upload(RandomValues(m * k, 61), k, m);
        var b = Upload(RandomValues(k * n, 62), k, n);
        var bias = Upload(RandomValues(n, 63));
        int before = backend.GemmPanelDepth;
        try
        {
            foreach (var kernel in new[] { IlgpuBackend.GemmKernel.TiledTiny, IlgpuBackend.GemmKernel.SplitK })
            {
                backend.ForcedGemmKernel = kernel;
                float[]? first = null;
                for (int depth = t; depth <= 4 * t; depth += t)
                {
                    backend.GemmPanelDepth = depth;
                    var c = backend.Allocate(m, n);
                    backend.Gemm(a, true, b, false, c, bias: bias, activation: Activation.Relu);
                    var values = c.ToArray();
                    if (first is null)
                    {
                        first = values;
                        var expected = new float[m * n];
                        GemmReference.Gemm(true, false, m, n, k, 1f, a.ToArray(), b.ToArray(), 0f, expected, bias.ToArray(), Activation.Relu);
                        AssertClose(expected, values, 1e-5f, 2e-6f * k, $"{kernel} at panel depth {depth}");
                    }
                    else AssertBitwiseEqual(first, values, $"{kernel} at panel depth {depth} against depth {t}");
                }
            }
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
            backend.GemmPanelDepth = before;
        }
        Assert.Contains("multiple of", Assert.Throws<ArgumentException>(() => backend.GemmPanelDepth = t + 1).Message);
        Assert.Throws<ArgumentException>(() => backend.SplitKBlocksPerMultiprocessor = 0);
        // Benchmark records name the setting they ran with.
        Assert.Contains($"panel_depth={before} splitk_blocks_per_sm={backend.SplitKBlocksPerMultiprocessor}", backend.GemmSettings);
        Assert.StartsWith("kernel=auto ", backend.GemmSettings);
        Assert.Throws<ArgumentException>(() => backend.GemmPanelDepth = 0);
        Assert.Throws<ArgumentException>(() => backend.GemmPanelDepth = 1024 * t);
        Assert.Equal(before, backend.GemmPanelDepth);
    }

    static long GemmBlocks(IlgpuBackend backend, GemmShape shape, int tile) =>
        (long)((shape.M + tile - 1) / tile) * ((shape.N + tile - 1) / tile) * shape.Batch;

    [Fact]
    public void SmallProductsGetTheSmallTiles()
    {
        var backend = Ilgpu;
        Assert.Equal(IlgpuBackend.GemmKernel.Naive, backend.ChooseGemmKernel(new GemmShape(1, 8, 8, 8, false, false, 0, 0, 0, 0)));
        // A small output with a long k: one block would leave the rest of the device idle, so k is split.
        var longK = new GemmShape(1, 1, 1, 40_000, false, false, 0, 0, 0, 0);
        Assert.Equal(Math.Min(16, backend.SplitKBlocksPerMultiprocessor * backend.MultiprocessorCount), backend.SplitKSlices(longK));
        if (backend.MultiprocessorCount > 1)
            Assert.Equal(IlgpuBackend.GemmKernel.SplitK, backend.ChooseGemmKernel(longK));
        // Too short a k to split: one element of C per thread, where even 2T×2T tiles are too few.
        var shortK = new GemmShape(1, 300, 300, 1, false, false, 0, 0, 0, 0);
        Assert.Equal(1, backend.SplitKSlices(shortK));
        if (GemmBlocks(backend, shortK, 2 * backend.GemmTileThreads) < backend.MultiprocessorCount)
            Assert.Equal(IlgpuBackend.GemmKernel.TiledTiny, backend.ChooseGemmKernel(shortK));
        // A product whose large tiles outnumber the multiprocessors gets them.
        int side = 64 * backend.MultiprocessorCount;
        Assert.Equal(IlgpuBackend.GemmKernel.Tiled, backend.ChooseGemmKernel(new GemmShape(1, side, side, 64, false, false, 0, 0, 0, 0)));
    }

    [Fact]
    public void FusedOpsLaunchTheDocumentedNumberOfKernels()
    {
        var backend = Ilgpu;
        var g = Upload(RandomValues(1000, 1));
        var scalar = backend.Allocate(1);
        AssertLaunches(1, () => backend.ClipGradientNorm(g, 0.5f, scalar));
        AssertLaunches(1, () => backend.MseLoss(g, g, backend.Allocate(1000), scalar));
        AssertLaunches(1, () => backend.Sum(g, scalar));
        // SAC's losses: one launch each, in place of the chains of six (+ three for the temperature) and ten.
        var q = backend.Allocate(2, 500); var perRow = Upload(RandomValues(500, 3));
        AssertLaunches(1, () => backend.SoftActorLoss(q, perRow, scalar, backend.Allocate(2, 500), backend.Allocate(500), backend.Allocate(1),
            backend.Allocate(1), -6f, backend.Allocate(1), backend.Allocate(1)));
        AssertLaunches(1, () => backend.SoftTdLoss(q, q, perRow, scalar, perRow, perRow, perRow, 0.99f, backend.Allocate(2, 500), backend.Allocate(1),
            backend.Allocate(1), backend.Allocate(500)));
        AssertLaunches(1, () => backend.Gemm(backend.Allocate(3, 8, 8), false, backend.Allocate(8, 8), false, backend.Allocate(3, 8, 8), bias: backend.Allocate(8), activation: Activation.Relu));
        var large = Upload(RandomValues(70000, 2));
        AssertLaunches(2, () => backend.Sum(large, scalar));
        AssertLaunches(3, () => backend.ClipGradientNorm(large, 0.5f, scalar));
        var x = backend.Allocate(8, 16);
        AssertLaunches(2, () => backend.LayerNormBackward(x, x, backend.Allocate(16), backend.Allocate(8), backend.Allocate(8), backend.Allocate(8, 16), backend.Allocate(16), backend.Allocate(16)));
    }

    void AssertLaunches(int expected, Action op)
    {
        long before = Ilgpu.KernelLaunchCount;
        op();
        Assert.Equal(expected, Ilgpu.KernelLaunchCount - before);
    }

    [Fact]
    public void EnsembleMlpTrainingStepsMatchTheCpuBackend()
    {
        // Whole layers on this backend (GEMM epilogues, LayerNorm, ensemble bias sums, MSE, Adam) against the
        // managed CPU backend: same initial weights, same batch, three steps.
        const int members = 2, batch = 8, inDim = 5, outDim = 2;
        var spec = new MlpSpec(inDim, [16, 16], outDim) { LayerNorm = true, HiddenActivation = Activation.Tanh };
        using var cpu = new CpuBackend(1);
        var host = new HostRandom(3);
        float[] x = Enumerable.Range(0, batch * inDim).Select(_ => host.Normal()).ToArray();
        float[] target = Enumerable.Range(0, members * batch * outDim).Select(_ => host.Normal()).ToArray();

        float[] Train(Backend backend, float[] initialParameters)
        {
            var net = new Mlp(backend, spec, seed: 7, members);
            backend.Upload(initialParameters, net.Parameters.Values);
            var adam = new Adam(net.Parameters, 1e-2f);
            var input = backend.FromArray(x, batch, inDim);
            var targets = backend.FromArray(target, members, batch, outDim);
            var gradient = backend.Allocate(members, batch, outDim);
            var loss = backend.Allocate(1);
            for (int step = 0; step < 3; step++)
            {
                var prediction = net.Forward(input);
                backend.MseLoss(prediction, targets, gradient, loss);
                net.ZeroGradients();
                net.Backward(gradient);
                adam.Step();
            }
            return net.Parameters.Values.ToArray();
        }

        float[] initial = new Mlp(cpu, spec, seed: 7, members).Parameters.Values.ToArray();
        float[] expected = Train(cpu, initial);
        float[] actual = Train(Device, initial);
        AssertClose(expected, actual, 1e-3f, 1e-4f, "parameters after three Adam steps");
        Assert.NotEqual(initial, actual);
    }

    /// <summary>
    /// A training step touching every kind of graphed op: a random batch drawn by index from a dataset (indices with
    /// a count that grows every step, gather), Gaussian noise added to it, a copy, a zeroed buffer, an MLP with
    /// LayerNorm forward and backward, MSE, and Adam with gradient clipping.
    /// </summary>
    sealed class GraphTestStep
    {
        readonly Backend backend;
        readonly Mlp net;
        readonly Adam adam;
        readonly Tensor data, batch, noisy, targets, gradient, loss;
        readonly IndexTensor rows;
        readonly DeviceRandom random = new(11);
        public int Filled = 40;

        public GraphTestStep(Backend backend)
        {
            this.backend = backend;
            net = new Mlp(backend, new MlpSpec(5, [16, 16], 2) { LayerNorm = true }, seed: 3);
            adam = new Adam(net.Parameters, 1e-2f) { MaxGradientNorm = 1f };
            data = backend.FromArray(RandomValues(64 * 5, 21), 64, 5);
            rows = backend.AllocateIndices(8);
            batch = backend.Allocate(8, 5);
            noisy = backend.Allocate(8, 5);
            targets = backend.FromArray(RandomValues(8 * 2, 22), 8, 2);
            gradient = backend.Allocate(8, 2);
            loss = backend.Allocate(1);
        }

        public void Run()
        {
            random.Indices(rows, Filled);
            Filled++;
            backend.GatherRows(data, rows, batch);
            random.Normal(noisy, 0f, 0.1f);
            backend.Binary(BinaryOp.Add, batch, noisy, noisy);
            backend.Copy(noisy, batch);
            backend.Fill(gradient, 0f);
            var prediction = net.Forward(batch);
            backend.MseLoss(prediction, targets, gradient, loss);
            net.ZeroGradients();
            net.Backward(gradient);
            adam.Step();
        }

        public float[] State() => [.. net.Parameters.Values.ToArray(), .. loss.ToArray(), .. noisy.ToArray()];
    }

    [Fact]
    public void GraphedStepsMatchEagerStepsBitForBit()
    {
        var eager = new GraphTestStep(Device);
        var graphed = new GraphTestStep(Device);
        using var step = new GraphedStep(Device, graphed.Run);
        Assert.Equal(Kind == DeviceKind.Cuda, step.UsesGraphs);
        long graphsBefore = Ilgpu.GraphLaunchCount;
        for (int i = 0; i < 7; i++)
        {
            eager.Run();
            step.Run();
            AssertBitwiseEqual(eager.State(), graphed.State(), $"parameters, loss and noisy batch after step {i + 1}");
        }
        if (!step.UsesGraphs) return;
        // One eager step, two captures and four replays: six graph launches, and replays launch no kernels of their own.
        Assert.Equal(6, Ilgpu.GraphLaunchCount - graphsBefore);
        Assert.True(step.KernelsPerStep > 10, $"{step.KernelsPerStep} kernels per step");
        Assert.True(step.GraphNodes > step.KernelsPerStep, $"{step.GraphNodes} graph nodes for {step.KernelsPerStep} kernels (plus copies and the scalar copy)");
        long launchesBefore = Ilgpu.KernelLaunchCount;
        step.Run();
        Assert.Equal(launchesBefore, Ilgpu.KernelLaunchCount);
    }

    [Fact]
    public void PhasedGraphedStepsMatchEagerStepsBitForBit()
    {
        // A step whose launches repeat every third call (like TD3's delayed actor update): the shared part every
        // call, an extra op on calls 2, 5, 8, …
        var eager = new GraphTestStep(Device);
        var graphed = new GraphTestStep(Device);
        var eagerExtra = Device.Allocate(8);
        var graphedExtra = Device.Allocate(8);
        var eagerNoise = new DeviceRandom(5);
        var graphedNoise = new DeviceRandom(5);
        int eagerCalls = 0, graphedCalls = 0;
        void Step(GraphTestStep target, Tensor extra, DeviceRandom noise, ref int calls)
        {
            target.Run();
            if (calls++ % 3 == 2)
            {
                noise.Uniform(extra, -1f, 1f);
                Device.Unary(UnaryOp.Exp, extra, extra);
            }
        }
        using var step = new GraphedStep(Device, () => Step(graphed, graphedExtra, graphedNoise, ref graphedCalls), phases: 3);
        for (int i = 0; i < 14; i++)
        {
            Step(eager, eagerExtra, eagerNoise, ref eagerCalls);
            step.Run();
            AssertBitwiseEqual([.. eager.State(), .. eagerExtra.ToArray()], [.. graphed.State(), .. graphedExtra.ToArray()], $"state after step {i + 1}");
        }
        Assert.True(eagerExtra.ToArray().All(value => value > 0f));
    }

    [Fact]
    public void AGraphedStepMayMakeAndFillBuffersOnItsFirstCallOnly()
    {
        // Like an agent's per-batch buffers: made and filled with constants on the first update, reused afterwards.
        var backend = Device;
        Tensor? scale = null;
        var x = backend.Allocate(16);
        var threshold = backend.Allocate(1);
        float next = 0f;
        using var step = new GraphedStep(backend, () =>
        {
            if (scale is null)
            {
                scale = backend.Allocate(1);
                backend.Fill(scale, 2f);
            }
            backend.Fill(threshold, next);
            backend.Binary(BinaryOp.Mul, x, scale, x, 1f, 1f, Broadcast.Scalar);
            backend.Binary(BinaryOp.Add, x, threshold, x, 1f, 1f, Broadcast.Scalar);
        });
        float expected = 0f;
        for (int i = 0; i < 6; i++)
        {
            next = i;
            step.Run();
            expected = expected * 2f + i;
        }
        Assert.All(x.ToArray(), value => Assert.Equal(expected, value));
    }

    [Fact]
    public void AGraphedStepWhoseLaunchesChangeIsRefused()
    {
        if (Kind != DeviceKind.Cuda) Assert.Skip("graphs are captured on CUDA only");
        var backend = Device;
        var x = backend.Allocate(16);
        bool twice = false;
        using var step = new GraphedStep(backend, () =>
        {
            backend.Unary(UnaryOp.Affine, x, x, 1f, 1f);
            if (twice) backend.Unary(UnaryOp.Exp, x, x);
        });
        for (int i = 0; i < 4; i++) step.Run();
        twice = true;
        var error = Assert.Throws<InvalidOperationException>(step.Run);
        Assert.Contains("same launches", error.Message);
        backend.Synchronize();
        Assert.All(x.ToArray(), value => Assert.Equal(4f, value));
    }

    [Fact]
    public void AGraphedStepThatCopiesToTheHostIsRefused()
    {
        if (Kind != DeviceKind.Cuda) Assert.Skip("graphs are captured on CUDA only");
        var backend = Device;
        var x = backend.Allocate(16);
        using var step = new GraphedStep(backend, () =>
        {
            backend.Unary(UnaryOp.Affine, x, x, 1f, 1f);
            _ = x.ToArray();
        });
        step.Run();
        var error = Assert.Throws<InvalidOperationException>(step.Run);
        Assert.Contains("copying to the host inside a graphed step", error.Message);
        // The backend is usable afterwards.
        backend.Unary(UnaryOp.Affine, x, x, 1f, 1f);
        Assert.All(x.ToArray(), value => Assert.Equal(2f, value));
    }

    [Fact]
    public void ReductionsRepeatBitForBit()
    {
        var backend = Ilgpu;
        int rows = Math.Min(MaxRows, 129), cols = 33;
        var x = Upload(RandomValues(rows * cols, 5), rows, cols);
        var dy = Upload(RandomValues(rows * cols, 6), rows, cols);
        var gamma = Upload(RandomValues(cols, 7));
        var mean = backend.Allocate(rows); var rstd = backend.Allocate(rows);
        backend.LayerNormForward(x, gamma, backend.Allocate(cols), backend.Allocate(rows, cols), mean, rstd);
        float[]? firstGamma = null, firstColumns = null;
        for (int run = 0; run < 2; run++)
        {
            var dgamma = backend.Allocate(cols); var dbeta = backend.Allocate(cols); var columns = backend.Allocate(cols);
            backend.LayerNormBackward(x, dy, gamma, mean, rstd, backend.Allocate(rows, cols), dgamma, dbeta);
            backend.ColumnSum(dy, columns);
            if (firstGamma is null) { firstGamma = dgamma.ToArray(); firstColumns = columns.ToArray(); continue; }
            AssertBitwiseEqual(firstGamma, dgamma.ToArray(), "dγ on a second run");
            AssertBitwiseEqual(firstColumns!, columns.ToArray(), "column sum on a second run");
        }
    }
}

/// <summary>The GPU kernels on ILGPU's CPU accelerator (always present; a slow SIMT simulator, so shapes stay small).</summary>
[Collection(IlgpuCollection.Name)]
public sealed class IlgpuCpuConformanceTests : IlgpuConformanceTests
{
    protected override DeviceKind Kind => DeviceKind.IlgpuCpu;
    protected override int MaxGemmDim => 48;
    protected override int MaxRows => 64;
}

/// <summary>The GPU kernels on the first OpenCL device (PoCL in CI, enabled through the explicit generic-address-space option).</summary>
[Collection(IlgpuCollection.Name)]
public sealed class OpenClConformanceTests : IlgpuConformanceTests
{
    protected override DeviceKind Kind => DeviceKind.OpenCL;
}

/// <summary>The GPU kernels on the first CUDA device; skipped where there is none.</summary>
[Collection(IlgpuCollection.Name)]
public sealed class CudaConformanceTests : IlgpuConformanceTests
{
    protected override DeviceKind Kind => DeviceKind.Cuda;
}

/// <summary>
/// ILGPU accelerators (the CPU simulator's threads, PoCL's thread pool, CUDA) run one test class at a time and
/// never beside other test classes: concurrent accelerator use from several xunit collections crashed the
/// process now and then on a 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IlgpuCollection
{
    public const string Name = "ILGPU accelerators";
}
