using O2RL.Kernels;

namespace O2RL.Engine.Diagnostics;

/// <summary>One op checked against its plain C# reference.</summary>
public sealed record KernelCheckResult(string Op, double MaxAbsError, double Tolerance)
{
    /// <summary>Whether the error is within tolerance.</summary>
    public bool Passed => MaxAbsError <= Tolerance;
}

/// <summary>
/// Runs every kernel of a backend on small awkward shapes and compares it with the <c>Reference.cs</c> of its op
/// (what <c>o2rl doctor</c> reports for each device). The unit tests cover far more cases; this is a quick
/// health check of a device as installed.
/// </summary>
public static class KernelSelfCheck
{
    /// <summary>Checks every op; never throws for a numeric mismatch (it is reported), only for a broken device.</summary>
    public static IReadOnlyList<KernelCheckResult> Run(Backend backend)
    {
        var results = new List<KernelCheckResult>();
        var random = new HostRandom(20260101);
        float[] Draw(int n) { var v = new float[n]; for (int i = 0; i < n; i++) v[i] = random.Uniform(-1f, 1f); return v; }

        foreach (var (transA, transB) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            const int m = 17, n = 33, k = 19;
            float[] a = Draw(m * k), b = Draw(k * n), c = Draw(m * n), bias = Draw(n);
            var expected = (float[])c.Clone();
            GemmReference.Gemm(transA, transB, m, n, k, 0.7f, a, b, 0.5f, expected, bias, Activation.Relu);
            var cT = backend.FromArray(c, m, n);
            backend.Gemm(backend.FromArray(a, transA ? k : m, transA ? m : k), transA, backend.FromArray(b, transB ? n : k, transB ? k : n), transB,
                cT, 0.7f, 0.5f, backend.FromArray(bias, n), Activation.Relu);
            results.Add(Compare($"gemm {(transA ? "T" : "N")}{(transB ? "T" : "N")}", expected, cT.ToArray(), 1e-4));
        }
        {
            const int rows = 7, cols = 37;
            float[] x = Draw(rows * cols), gamma = Draw(cols), beta = Draw(cols), dy = Draw(rows * cols);
            float[] y = new float[x.Length], mean = new float[rows], rstd = new float[rows], dx = new float[x.Length], dg = new float[cols], db = new float[cols];
            LayerNormReference.Forward(rows, cols, 1, x, gamma, beta, y, mean, rstd, 1e-5f);
            LayerNormReference.Backward(rows, cols, 1, x, dy, gamma, mean, rstd, dx, dg, db);
            var xT = backend.FromArray(x, rows, cols); var gT = backend.FromArray(gamma, cols); var bT = backend.FromArray(beta, cols);
            var yT = backend.Allocate(rows, cols); var meanT = backend.Allocate(rows); var rstdT = backend.Allocate(rows);
            backend.LayerNormForward(xT, gT, bT, yT, meanT, rstdT);
            var dxT = backend.Allocate(rows, cols); var dgT = backend.Allocate(cols); var dbT = backend.Allocate(cols);
            backend.LayerNormBackward(xT, backend.FromArray(dy, rows, cols), gT, meanT, rstdT, dxT, dgT, dbT);
            results.Add(Compare("layernorm forward", y, yT.ToArray(), 1e-4));
            results.Add(Compare("layernorm backward", [.. dx, .. dg, .. db], [.. dxT.ToArray(), .. dgT.ToArray(), .. dbT.ToArray()], 1e-4));
        }
        foreach (UnaryOp op in Enum.GetValues<UnaryOp>())
        {
            float[] x = Draw(257);
            if (op is UnaryOp.Log or UnaryOp.Sqrt) for (int i = 0; i < x.Length; i++) x[i] = MathF.Abs(x[i]) + 0.1f;
            if (op is UnaryOp.Atanh) for (int i = 0; i < x.Length; i++) x[i] *= 0.9f;
            var expected = new float[x.Length];
            ElementwiseReference.Unary(op, x, expected, -0.3f, 0.4f);
            var yT = backend.Allocate(x.Length);
            backend.Unary(op, backend.FromArray(x), yT, -0.3f, 0.4f);
            results.Add(Compare($"unary {op}", expected, yT.ToArray(), 1e-5));
        }
        foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
        {
            float[] x = Draw(3 * 17), y = Draw(17);
            if (op is BinaryOp.Div) for (int i = 0; i < y.Length; i++) y[i] = MathF.Abs(y[i]) + 0.5f;
            var expected = new float[x.Length];
            ElementwiseReference.Binary(op, x, y, expected, 1.5f, -0.5f, Broadcast.Row, 17);
            var zT = backend.Allocate(3, 17);
            backend.Binary(op, backend.FromArray(x, 3, 17), backend.FromArray(y), zT, 1.5f, -0.5f, Broadcast.Row);
            results.Add(Compare($"binary {op}", expected, zT.ToArray(), 1e-5));
        }
        {
            float[] x = Draw(2 * 9 * 13), y = Draw(2 * 13);
            var expected = (float[])y.Clone();
            ReduceReference.ColumnSum(2, 9, 13, x, expected, 1f, 1f);
            var yT = backend.FromArray(y);
            backend.ColumnSum(backend.FromArray(x, 2, 9, 13), yT, 1f, 1f);
            results.Add(Compare("column sum", expected, yT.ToArray(), 1e-5));
        }
        {
            float[] p = Draw(300), g = Draw(300), m = Draw(300), v = Draw(300);
            for (int i = 0; i < v.Length; i++) v[i] = MathF.Abs(v[i]);
            float[] pe = (float[])p.Clone(), me = (float[])m.Clone(), ve = (float[])v.Clone();
            float stepSize = (float)(1e-3 / (1 - Math.Pow(0.9, 3))), bc2 = (float)Math.Sqrt(1 - Math.Pow(0.999, 3));
            AdamReference.Step(pe, g, me, ve, stepSize, 0.9f, 0.999f, 1e-8f, bc2);
            var pT = backend.FromArray(p);
            backend.Adam(pT, backend.FromArray(g), backend.FromArray(m), backend.FromArray(v), 1e-3f, 0.9f, 0.999f, 1e-8f, 3);
            results.Add(Compare("adam", pe, pT.ToArray(), 1e-6));
        }
        {
            // A two-member layer's backward in one call: dW += δzᵀ·x, dx = δz·W, db += Σ_batch δz.
            const int members = 2, batch = 11, outDim = 21, inDim = 9;
            float[] dz = Draw(members * batch * outDim), x = Draw(members * batch * inDim), w = Draw(members * outDim * inDim);
            float[] dw = Draw(members * outDim * inDim), db = Draw(members * outDim);
            float[] dwExpected = (float[])dw.Clone(), dbExpected = (float[])db.Clone(), dxExpected = new float[members * batch * inDim];
            for (int e = 0; e < members; e++)
            {
                GemmReference.Gemm(true, false, outDim, inDim, batch, 1f, dz.AsSpan(e * batch * outDim, batch * outDim), x.AsSpan(e * batch * inDim, batch * inDim),
                    1f, dwExpected.AsSpan(e * outDim * inDim, outDim * inDim), default, Activation.Identity);
                GemmReference.Gemm(false, false, batch, inDim, outDim, 1f, dz.AsSpan(e * batch * outDim, batch * outDim), w.AsSpan(e * outDim * inDim, outDim * inDim),
                    0f, dxExpected.AsSpan(e * batch * inDim, batch * inDim), default, Activation.Identity);
            }
            ReduceReference.ColumnSum(members, batch, outDim, dz, dbExpected, 1f, 1f);
            var dzT = backend.FromArray(dz, members, batch, outDim);
            var dwT = backend.FromArray(dw, members, outDim, inDim); var dbT = backend.FromArray(db, members, outDim); var dxT = backend.Allocate(members, batch, inDim);
            backend.GemmPairAndColumnSum(new GemmRequest(dzT, true, backend.FromArray(x, members, batch, inDim), false, dwT, Beta: 1f),
                new GemmRequest(dzT, false, backend.FromArray(w, members, outDim, inDim), false, dxT), new ColumnSumRequest(dzT, dbT, Beta: 1f));
            results.Add(Compare("layer gradients", [.. dwExpected, .. dxExpected, .. dbExpected],
                [.. dwT.ToArray(), .. dxT.ToArray(), .. dbT.ToArray()], 1e-4));
        }
        {
            float[] p = Draw(300), g = Draw(300), target = Draw(300);
            float[] pe = (float[])p.Clone(), me = new float[300], ve = new float[300], targetExpected = (float[])target.Clone();
            float stepSize = (float)(1e-3 / (1 - 0.9)), bc2 = (float)Math.Sqrt(1 - 0.999);
            AdamReference.Step(pe, g, me, ve, stepSize, 0.9f, 0.999f, 1e-8f, bc2);
            PolyakReference.Update(targetExpected, pe, 0.005f);
            var pT = backend.FromArray(p); var targetT = backend.FromArray(target);
            backend.AdamThenPolyak(pT, backend.FromArray(g), backend.Allocate(300), backend.Allocate(300), 1e-3f, 0.9f, 0.999f, 1e-8f, 1, targetT, 0.005f);
            results.Add(Compare("adam then polyak", [.. pe, .. targetExpected], [.. pT.ToArray(), .. targetT.ToArray()], 1e-6));
        }
        {
            // The tanh-Gaussian sample drawing its own ε from a Philox stream.
            const int rows = 13, actionDim = 3;
            float[] head = Draw(rows * 2 * actionDim), noise = new float[rows * actionDim];
            RandomReference.Normal(noise, 91, 4096, 0f, 1f);
            float[] action = new float[rows * actionDim], stdNoise = new float[rows * actionDim], logProb = new float[rows];
            var noiseT = backend.Allocate(rows, actionDim); var actionT = backend.Allocate(rows, actionDim);
            var stdNoiseT = backend.Allocate(rows, actionDim); var logProbT = backend.Allocate(rows);
            backend.TanhGaussianSample(backend.FromArray(head, rows, 2 * actionDim), noiseT, new PhiloxDraw(91, 4096), backend.FromArray([1f]), backend.FromArray([0f]),
                -20f, 2f, actionT, stdNoiseT, logProbT);
            // The sample is checked from the ε the device drew (a GPU's log and cos round differently), ε against the reference draw.
            float[] drawn = noiseT.ToArray();
            TanhGaussianReference.Sample(rows, actionDim, head, drawn, 1f, 0f, -20f, 2f, action, stdNoise, logProb);
            results.Add(Compare("tanh-Gaussian draw", [.. noise, .. action, .. logProb],
                [.. drawn, .. actionT.ToArray(), .. logProbT.ToArray()], 1e-4));
        }
        {
            // TD3's target smoothing in one op: ε drawn, n = clip(σε, ±c), a = clamp(μ + n, ±1); checked from the ε the device drew.
            const int count = 40;
            float[] mean = Draw(count), noise = new float[count];
            RandomReference.Normal(noise, 92, 8192, 0f, 1f);
            var noiseT = backend.Allocate(count); var actionT = backend.Allocate(count);
            backend.NoisyAction(backend.FromArray(mean), noiseT, new PhiloxDraw(92, 8192), 0.6f, 0.5f, 1f, backend.Allocate(count), backend.Allocate(count), actionT);
            float[] drawn = noiseT.ToArray(), action = new float[count];
            for (int i = 0; i < count; i++) action[i] = Math.Clamp(mean[i] + Math.Clamp(0.6f * drawn[i], -0.5f, 0.5f), -1f, 1f);
            results.Add(Compare("noisy action", [.. noise, .. action], [.. drawn, .. actionT.ToArray()], 1e-4));
        }
        {
            float[] p = Draw(255), t = Draw(255);
            var grad = new float[255];
            float loss = LossReference.Mse(p, t, grad, 0.5f);
            var gT = backend.Allocate(255); var lT = backend.Allocate(1);
            backend.MseLoss(backend.FromArray(p), backend.FromArray(t), gT, lT, 0.5f);
            results.Add(Compare("mse loss", [loss, .. grad], [backend.ReadScalar(lT), .. gT.ToArray()], 1e-5));
        }
        {
            var expected = new float[1000];
            RandomReference.Uniform(expected, 77, 123, -2f, 3f);
            var xT = backend.Allocate(1000);
            backend.RandomUniform(xT, 77, 123, -2f, 3f);
            results.Add(Compare("philox uniform", expected, xT.ToArray(), 0));
        }
        return results;
    }

    static KernelCheckResult Compare(string op, float[] expected, float[] actual, double tolerance)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]) / Math.Max(1.0, Math.Abs(expected[i]));
            if (double.IsNaN(error)) error = double.PositiveInfinity;
            worst = Math.Max(worst, error);
        }
        return new KernelCheckResult(op, worst, tolerance);
    }
}
