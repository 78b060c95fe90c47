namespace O2RL.Envs.Wrappers;

/// <summary>
/// Lets the agent act in [low, high]^n (default [−1, 1]^n, as D4RL's wrapper does): an action is mapped affinely
/// onto the inner environment's bounded action box and then clipped to it.
/// </summary>
public sealed class RescaleAction : EnvironmentWrapper
{
    private readonly float[] scaled;
    private readonly BoxSpace space;
    private readonly float agentLow;
    private readonly float agentHigh;

    /// <summary>Wraps <paramref name="inner"/>, whose action box must be bounded.</summary>
    public RescaleAction(IEnvironment inner, float low = -1f, float high = 1f) : base(inner)
    {
        if (!inner.ActionSpace.IsBounded)
            throw new ArgumentException($"{inner.Id} has an unbounded action space; it cannot be rescaled");
        if (!(low < high) || !float.IsFinite(low) || !float.IsFinite(high))
            throw new ArgumentException($"the agent's action range [{low}, {high}] must be finite with low < high");
        agentLow = low;
        agentHigh = high;
        scaled = new float[inner.ActionSpace.Dimension];
        space = BoxSpace.Uniform(scaled.Length, low, high);
    }

    /// <summary>The agent's action box [low, high]^n.</summary>
    public override BoxSpace ActionSpace => space;

    /// <inheritdoc />
    public override StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        space.CheckLength(action.Length, "action");
        var target = Inner.ActionSpace;
        for (int i = 0; i < scaled.Length; i++)
        {
            double fraction = ((double)action[i] - agentLow) / ((double)agentHigh - agentLow);
            double value = target.Low[i] + fraction * ((double)target.High[i] - target.Low[i]);
            scaled[i] = (float)Math.Clamp(value, target.Low[i], target.High[i]);
        }
        return Inner.Step(scaled, observation);
    }
}
