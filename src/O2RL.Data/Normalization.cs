namespace O2RL.Data;

/// <summary>
/// Fixed per-dimension state normalisation s ← (s − mean) / std, with std = population std + epsilon
/// (ALGORITHMS §3.1 and §10 item 18: epsilon 1e-3 for SAC/TD3/offline learners on the Q-learning dataset,
/// 1e-10 for PPO on its raw arrays).
/// </summary>
public sealed class StateNormalizer
{
    /// <summary>Wraps given constants; throws when the lengths differ or a std is not positive.</summary>
    public StateNormalizer(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length != std.Length) throw new ArgumentException($"mean has {mean.Length} dimensions but std has {std.Length}");
        if (mean.Length == 0) throw new ArgumentException("a normaliser needs at least one dimension");
        for (int j = 0; j < std.Length; j++)
            if (!(std[j] > 0f) || !float.IsFinite(std[j]) || !float.IsFinite(mean[j]))
                throw new ArgumentException($"normaliser dimension {j} has mean {mean[j]} and std {std[j]}; std must be positive and both finite");
        Mean = mean;
        Std = std;
    }

    /// <summary>Per-dimension mean: [dim].</summary>
    public float[] Mean { get; }

    /// <summary>Per-dimension std (epsilon included): [dim].</summary>
    public float[] Std { get; }

    /// <summary>Number of dimensions.</summary>
    public int Dimension => Mean.Length;

    /// <summary>The identity normaliser (mean 0, std 1), e.g. for AntMaze SAC.</summary>
    public static StateNormalizer Identity(int dimension)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        return new(new float[dimension], Enumerable.Repeat(1f, dimension).ToArray());
    }

    /// <summary>
    /// Mean and population std (dividing by N) of each column of <paramref name="rows"/> [n, dim], plus
    /// <paramref name="epsilon"/> on the std. Accumulates in double precision.
    /// </summary>
    public static StateNormalizer FromRows(ReadOnlySpan<float> rows, int dimension, double epsilon = 1e-3)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        if (rows.Length % dimension != 0) throw new ArgumentException($"{rows.Length} values are not whole rows of {dimension}");
        long n = rows.Length / dimension;
        if (n == 0) throw new ArgumentException("cannot compute normalisation constants from zero rows");
        var sum = new double[dimension];
        for (long i = 0; i < n; i++)
            for (int j = 0; j < dimension; j++) sum[j] += rows[(int)(i * dimension + j)];
        var mean = new double[dimension];
        for (int j = 0; j < dimension; j++) mean[j] = sum[j] / n;
        // Second pass on centred values: the one-pass E[x²] − E[x]² loses precision for 1M rows in float ranges.
        var squares = new double[dimension];
        for (long i = 0; i < n; i++)
            for (int j = 0; j < dimension; j++)
            {
                double d = rows[(int)(i * dimension + j)] - mean[j];
                squares[j] += d * d;
            }
        var meanOut = new float[dimension];
        var stdOut = new float[dimension];
        for (int j = 0; j < dimension; j++)
        {
            meanOut[j] = (float)mean[j];
            stdOut[j] = (float)(Math.Sqrt(squares[j] / n) + epsilon);
        }
        return new StateNormalizer(meanOut, stdOut);
    }

    /// <summary>SAC/TD3/offline constants: from the observations of the Q-learning transitions, std + 1e-3.</summary>
    public static StateNormalizer ForQLearning(Transitions transitions, double epsilon = 1e-3) =>
        FromRows(transitions.Observations, transitions.ObservationDim, epsilon);

    /// <summary>PPO constants: from the N−1 stored states of the PPO transitions, std + 1e-10.</summary>
    public static StateNormalizer ForPpo(Transitions ppoTransitions, double epsilon = 1e-10) =>
        FromRows(ppoTransitions.Observations, ppoTransitions.ObservationDim, epsilon);

    /// <summary>Normalises rows [n, dim] in place.</summary>
    public void NormalizeInPlace(Span<float> rows)
    {
        if (rows.Length % Dimension != 0) throw new ArgumentException($"{rows.Length} values are not whole rows of {Dimension}");
        for (int i = 0; i < rows.Length; i++)
        {
            int j = i % Dimension;
            rows[i] = (rows[i] - Mean[j]) / Std[j];
        }
    }

    /// <summary>Normalises s and s' of every transition in place.</summary>
    public void NormalizeInPlace(Transitions transitions)
    {
        if (transitions.ObservationDim != Dimension)
            throw new ArgumentException($"transitions have {transitions.ObservationDim} observation dimensions but the normaliser has {Dimension}");
        NormalizeInPlace(transitions.Observations);
        NormalizeInPlace(transitions.NextObservations);
    }
}

/// <summary>
/// Running per-dimension mean and variance by Welford's update, mergeable across workers with Chan et al.'s
/// parallel formula (so vectorised environments can each keep one and combine them).
/// </summary>
public sealed class RunningMeanStd
{
    readonly double[] mean;
    readonly double[] m2;

    /// <summary>Empty statistics over <paramref name="dimension"/> values per sample.</summary>
    public RunningMeanStd(int dimension)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be at least 1");
        mean = new double[dimension];
        m2 = new double[dimension];
    }

    /// <summary>Values per sample.</summary>
    public int Dimension => mean.Length;

    /// <summary>Samples seen.</summary>
    public long Count { get; private set; }

    /// <summary>Current mean of dimension j.</summary>
    public double Mean(int j) => mean[j];

    /// <summary>Population variance (divide by n) of dimension j; 0 before two samples.</summary>
    public double PopulationVariance(int j) => Count > 0 ? m2[j] / Count : 0;

    /// <summary>Sample variance (divide by n − 1) of dimension j; 0 before two samples.</summary>
    public double SampleVariance(int j) => Count > 1 ? m2[j] / (Count - 1) : 0;

    /// <summary>Adds one sample of <see cref="Dimension"/> values.</summary>
    public void Add(ReadOnlySpan<float> sample)
    {
        if (sample.Length != Dimension) throw new ArgumentException($"sample has {sample.Length} values but the statistics have {Dimension} dimensions");
        // Checked before anything changes: one NaN would make the mean and every later normalised value NaN.
        for (int j = 0; j < Dimension; j++)
            if (!float.IsFinite(sample[j]))
                throw new ArgumentException($"sample value {sample[j]} in dimension {j} is not finite (sample {Count + 1})");
        Count++;
        for (int j = 0; j < Dimension; j++)
        {
            double delta = sample[j] - mean[j];
            mean[j] += delta / Count;
            m2[j] += delta * (sample[j] - mean[j]);
        }
    }

    /// <summary>Adds every row of [n, Dimension].</summary>
    public void AddRows(ReadOnlySpan<float> rows)
    {
        if (rows.Length % Dimension != 0) throw new ArgumentException($"{rows.Length} values are not whole rows of {Dimension}");
        for (int i = 0; i < rows.Length; i += Dimension) Add(rows.Slice(i, Dimension));
    }

    /// <summary>Copies the exact state (count, per-dimension mean and sum of squared deviations), e.g. to save a training run.</summary>
    public (long Count, double[] Mean, double[] SquaredDeviations) ExportState() => (Count, (double[])mean.Clone(), (double[])m2.Clone());

    /// <summary>Replaces the state with one from <see cref="ExportState"/> (resuming a training run exactly).</summary>
    public void ImportState(long count, ReadOnlySpan<double> means, ReadOnlySpan<double> squaredDeviations)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "sample count cannot be negative");
        if (means.Length != Dimension || squaredDeviations.Length != Dimension)
            throw new ArgumentException($"state has {means.Length} means and {squaredDeviations.Length} deviations but the statistics have {Dimension} dimensions");
        means.CopyTo(mean);
        squaredDeviations.CopyTo(m2);
        Count = count;
    }

    /// <summary>Folds another set of statistics into this one (as if its samples had been added here).</summary>
    public void Merge(RunningMeanStd other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Dimension != Dimension) throw new ArgumentException($"cannot merge statistics of {other.Dimension} dimensions into {Dimension}");
        if (other.Count == 0) return;
        long total = Count + other.Count;
        for (int j = 0; j < Dimension; j++)
        {
            double delta = other.mean[j] - mean[j];
            mean[j] += delta * other.Count / total;
            m2[j] += other.m2[j] + delta * delta * Count * other.Count / total;
        }
        Count = total;
    }

    /// <summary>Fixed normaliser from the current statistics: population std + epsilon.</summary>
    public StateNormalizer ToNormalizer(double epsilon = 1e-3)
    {
        if (Count == 0) throw new InvalidOperationException("no samples have been added");
        var m = new float[Dimension];
        var s = new float[Dimension];
        for (int j = 0; j < Dimension; j++)
        {
            m[j] = (float)mean[j];
            s[j] = (float)(Math.Sqrt(PopulationVariance(j)) + epsilon);
        }
        return new StateNormalizer(m, s);
    }
}

/// <summary>
/// O2PPO's "dynamic" reward scaling (ALGORITHMS §5.2), kept faithful to the reference: a discounted running sum
/// R ← γ·R + r whose running std scales each reward. Its statistics start with n = 0, M = 0, S = 1 (not 0) and
/// std = 1; the first value only sets M. The same object continues from the offline data into online rollouts.
/// </summary>
public sealed class RunningRewardScaler
{
    readonly double gamma;
    double runningSum;
    long n;
    double m;
    double s = 1.0;

    /// <summary>A scaler with discount γ.</summary>
    public RunningRewardScaler(double gamma = 0.99)
    {
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "discount must be in [0, 1]");
        this.gamma = gamma;
    }

    /// <summary>Current running std of R (1 until the second value).</summary>
    public double Std { get; private set; } = 1.0;

    /// <summary>Values of R seen.</summary>
    public long Count => n;

    /// <summary>Resets the discounted sum R (at a terminal transition offline, at each online episode start).</summary>
    public void ResetSum() => runningSum = 0;

    /// <summary>
    /// Updates the statistics with this reward and returns it scaled: r / (std + 1e-8) using the std after
    /// including the new R. At a terminal the reward is returned unscaled and R is reset (offline rule).
    /// </summary>
    public float Scale(float reward, bool terminal = false)
    {
        // One NaN would make R, and with it the std and every later scaled reward, NaN.
        if (!float.IsFinite(reward)) throw new ArgumentException($"reward {reward} is not finite (after {n} rewards)", nameof(reward));
        if (terminal)
        {
            ResetSum();
            return reward;
        }
        runningSum = gamma * runningSum + reward;
        Push(runningSum);
        return (float)(reward / (Std + 1e-8));
    }

    void Push(double x)
    {
        n++;
        if (n == 1) { m = x; return; }
        double next = m + (x - m) / n;
        s += (x - m) * (x - next);
        m = next;
        Std = Math.Sqrt(s / n);
    }

    /// <summary>The complete state: R, the count, the running mean and sum of squared deviations, and the std.</summary>
    public (double RunningSum, long Count, double Mean, double SquaredDeviations, double Std) ExportState() => (runningSum, n, m, s, Std);

    /// <summary>Replaces the state with one from <see cref="ExportState"/> (resuming a training run exactly).</summary>
    public void ImportState(double runningSum, long count, double mean, double squaredDeviations, double std)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (!double.IsFinite(runningSum) || !double.IsFinite(mean) || !(squaredDeviations >= 0) || !(std >= 0))
            throw new ArgumentException($"reward scaler state R = {runningSum}, mean = {mean}, S = {squaredDeviations}, std = {std} is not a valid running statistic");
        this.runningSum = runningSum;
        n = count;
        m = mean;
        s = squaredDeviations;
        Std = std;
    }

    /// <summary>Scales the rewards of a raw dataset in place, in dataset order, resetting R at terminal rows.</summary>
    public void ScaleDatasetRewards(TransitionDataset dataset)
    {
        for (int i = 0; i < dataset.RowCount; i++)
            dataset.Rewards[i] = Scale(dataset.Rewards[i], dataset.Terminals[i]);
    }
}
