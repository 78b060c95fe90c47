namespace O2RL.Envs.Wrappers;

/// <summary>
/// Standardises observations with a fixed, given mean and standard deviation: (obs − mean) / std, as offline RL
/// does with dataset statistics. The statistics are not updated online.
/// </summary>
public sealed class NormalizeObservation : EnvironmentWrapper
{
    private readonly float[] mean;
    private readonly float[] inverseStd;
    private readonly BoxSpace space;

    /// <summary>
    /// mean: [observationDim]; std: [observationDim], every entry &gt; 0 and finite.
    /// </summary>
    public NormalizeObservation(IEnvironment inner, ReadOnlySpan<float> mean, ReadOnlySpan<float> std) : base(inner)
    {
        int dim = inner.ObservationSpace.Dimension;
        if (mean.Length != dim)
            throw new ArgumentException($"mean has {mean.Length} entries but {inner.Id} has {dim} observation dimensions");
        if (std.Length != dim)
            throw new ArgumentException($"std has {std.Length} entries but {inner.Id} has {dim} observation dimensions");
        this.mean = mean.ToArray();
        inverseStd = new float[dim];
        for (int i = 0; i < dim; i++)
        {
            if (!float.IsFinite(mean[i]))
                throw new ArgumentException($"mean[{i}] = {mean[i]} is not finite");
            if (!(std[i] > 0f) || !float.IsFinite(std[i]))
                throw new ArgumentException($"std[{i}] = {std[i]} must be positive and finite");
            inverseStd[i] = 1f / std[i];
        }
        space = BoxSpace.Uniform(dim, float.NegativeInfinity, float.PositiveInfinity);
    }

    /// <summary>Standardised observations are unbounded.</summary>
    public override BoxSpace ObservationSpace => space;

    /// <inheritdoc />
    public override void Reset(Span<float> observation, int? seed = null)
    {
        Inner.Reset(observation, seed);
        Normalize(observation);
    }

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        var result = Inner.Step(action, observation);
        Normalize(observation);
        return result;
    }

    private void Normalize(Span<float> observation)
    {
        for (int i = 0; i < observation.Length; i++)
            observation[i] = (observation[i] - mean[i]) * inverseStd[i];
    }
}
