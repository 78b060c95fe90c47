using ILGPU;
using ILGPU.Algorithms;

namespace O2RL.Kernels;

/// <summary>Shape of a LayerNorm: rows split into equal consecutive groups, each with its own γ and β rows.</summary>
internal struct LayerNormArguments
{
    public int Rows, Cols, RowsPerGroup;
    public float Epsilon;
    /// <summary>The activation applied to the forward output (<see cref="Activation"/> as an int; identity in the backward).</summary>
    public int Activation;
}

/// <summary>
/// LayerNorm kernels. Forward and the input gradient run one thread group per row: the group's threads stride
/// over the columns (neighbouring threads read neighbouring elements) and combine their partial sums with a fixed
/// tree (two passes, mean then variance, as the reference). The parameter gradients dγ, dβ are column reductions:
/// groups of ColumnThreads × RowSlices threads, each thread summing every RowSlices-th row of its column in
/// increasing order and the slices then added in order. All sums are deterministic; no float atomics and no
/// scratch buffer in device memory.
/// </summary>
internal static class LayerNormGpu
{
    /// <summary>Grid: one group per row. y = act(γ ⊙ (x − μ)·rstd + β); saves μ and rstd. y may alias x.</summary>
    public static void Forward<TGeometry>(ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y,
        ArrayView<float> mean, ArrayView<float> rstd, LayerNormArguments args)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int row = Grid.IdxX, start = row * args.Cols;
        float partial = 0f;
        for (int c = Group.IdxX; c < args.Cols; c += Group.DimX) partial += x[start + c];
        float mu = GpuMath.GroupSum(scratch, partial) / args.Cols;
        partial = 0f;
        for (int c = Group.IdxX; c < args.Cols; c += Group.DimX)
        {
            float d = x[start + c] - mu;
            partial += d * d;
        }
        float variance = GpuMath.GroupSum(scratch, partial) / args.Cols;
        float inverseStd = 1f / XMath.Sqrt(variance + args.Epsilon);
        if (Group.IdxX == 0)
        {
            mean[row] = mu;
            rstd[row] = inverseStd;
        }
        int g = row / args.RowsPerGroup * args.Cols;
        for (int c = Group.IdxX; c < args.Cols; c += Group.DimX)
            y[start + c] = GpuMath.Activate(args.Activation, gamma[g + c] * ((x[start + c] - mu) * inverseStd) + beta[g + c]);
    }

    /// <summary>
    /// Grid: one group per row. dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ (overwrites dx; dx may
    /// alias dy or x, since each element is read and then written by the same thread after both sums).
    /// </summary>
    public static void BackwardInput<TGeometry>(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> gamma,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dx, LayerNormArguments args)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ReduceThreads);
        int row = Grid.IdxX, start = row * args.Cols;
        int g = row / args.RowsPerGroup * args.Cols;
        float mu = mean[row], inverseStd = rstd[row];
        float partialDxHat = 0f, partialDxHatXHat = 0f;
        for (int c = Group.IdxX; c < args.Cols; c += Group.DimX)
        {
            float dxHat = dy[start + c] * gamma[g + c];
            partialDxHat += dxHat;
            partialDxHatXHat += dxHat * ((x[start + c] - mu) * inverseStd);
        }
        float meanDxHat = GpuMath.GroupSum(scratch, partialDxHat) / args.Cols;
        float meanDxHatXHat = GpuMath.GroupSum(scratch, partialDxHatXHat) / args.Cols;
        for (int c = Group.IdxX; c < args.Cols; c += Group.DimX)
        {
            float xHat = (x[start + c] - mu) * inverseStd;
            float dxHat = dy[start + c] * gamma[g + c];
            dx[start + c] = inverseStd * (dxHat - meanDxHat - xHat * meanDxHatXHat);
        }
    }

    /// <summary>
    /// Grid (⌈cols / ColumnThreads⌉, groups), groups of ColumnThreads × RowSlices threads.
    /// dγ += Σ_rows dy ⊙ x̂; dβ += Σ_rows dy over the rows of the LayerNorm group.
    /// </summary>
    public static void BackwardParameters<TGeometry>(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> mean,
        ArrayView<float> rstd, ArrayView<float> dgamma, ArrayView<float> dbeta, LayerNormArguments args)
        where TGeometry : struct, IGpuGeometry
    {
        var scratch = SharedMemory.Allocate<float>(default(TGeometry).ColumnThreads * default(TGeometry).RowSlices);
        int c = Grid.IdxX * Group.DimX + Group.IdxX, group = Grid.IdxY;
        float sumGamma = 0f, sumBeta = 0f;
        if (c < args.Cols)
        {
            int first = group * args.RowsPerGroup;
            for (int r = first + Group.IdxY; r < first + args.RowsPerGroup; r += Group.DimY)
            {
                float d = dy[r * args.Cols + c];
                sumGamma += d * ((x[r * args.Cols + c] - mean[r]) * rstd[r]);
                sumBeta += d;
            }
        }
        // Every thread reaches both barriers inside ColumnTotal, including those past the last column.
        float totalGamma = GpuMath.ColumnTotal(scratch, sumGamma);
        float totalBeta = GpuMath.ColumnTotal(scratch, sumBeta);
        if (Group.IdxY == 0 && c < args.Cols)
        {
            dgamma[group * args.Cols + c] += totalGamma;
            dbeta[group * args.Cols + c] += totalBeta;
        }
    }
}
