namespace O2RL.Envs;

/// <summary>
/// A Gymnasium-style Box space: a one-dimensional vector of <see cref="Dimension"/> float32 entries, entry i
/// within [Low[i], High[i]] (bounds may be infinite).
/// </summary>
public sealed class BoxSpace
{
    private readonly float[] low;
    private readonly float[] high;

    /// <summary>Creates a box from per-entry bounds. low: [dimension], high: [dimension].</summary>
    public BoxSpace(ReadOnlySpan<float> low, ReadOnlySpan<float> high)
    {
        if (low.Length != high.Length)
            throw new ArgumentException($"low has {low.Length} entries but high has {high.Length}");
        if (low.Length == 0)
            throw new ArgumentException("a box space needs at least one dimension");
        for (int i = 0; i < low.Length; i++)
        {
            if (float.IsNaN(low[i]) || float.IsNaN(high[i]) || low[i] > high[i])
                throw new ArgumentException($"bound {i} is invalid: low {low[i]}, high {high[i]}");
        }
        this.low = low.ToArray();
        this.high = high.ToArray();
    }

    /// <summary>A box with the same bounds [low, high] in every one of <paramref name="dimension"/> entries.</summary>
    public static BoxSpace Uniform(int dimension, float low, float high)
    {
        if (dimension <= 0)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        var lows = new float[dimension];
        var highs = new float[dimension];
        Array.Fill(lows, low);
        Array.Fill(highs, high);
        return new BoxSpace(lows, highs);
    }

    /// <summary>Number of entries (the box's shape is [Dimension]).</summary>
    public int Dimension => low.Length;

    /// <summary>The shape as Gymnasium reports it: a single axis of length <see cref="Dimension"/>.</summary>
    public int[] Shape => [low.Length];

    /// <summary>Lower bounds, [Dimension].</summary>
    public ReadOnlySpan<float> Low => low;

    /// <summary>Upper bounds, [Dimension].</summary>
    public ReadOnlySpan<float> High => high;

    /// <summary>True when every bound is finite (required to sample uniformly or rescale into the box).</summary>
    public bool IsBounded
    {
        get
        {
            for (int i = 0; i < low.Length; i++)
                if (!float.IsFinite(low[i]) || !float.IsFinite(high[i])) return false;
            return true;
        }
    }

    /// <summary>True when <paramref name="value"/> has Dimension entries, all within their bounds.</summary>
    public bool Contains(ReadOnlySpan<float> value)
    {
        if (value.Length != low.Length) return false;
        for (int i = 0; i < value.Length; i++)
            if (!(value[i] >= low[i] && value[i] <= high[i])) return false;
        return true;
    }

    /// <summary>Writes clip(value, Low, High) into <paramref name="destination"/> (both [Dimension]).</summary>
    public void Clip(ReadOnlySpan<float> value, Span<float> destination)
    {
        CheckLength(value.Length, "value");
        CheckLength(destination.Length, "destination");
        for (int i = 0; i < value.Length; i++)
            destination[i] = Math.Clamp(value[i], low[i], high[i]);
    }

    /// <summary>Fills <paramref name="destination"/> ([Dimension]) with a uniform sample from a bounded box.</summary>
    public void Sample(EnvRandom random, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckLength(destination.Length, "destination");
        if (!IsBounded)
            throw new InvalidOperationException("cannot sample uniformly from a box with infinite bounds");
        for (int i = 0; i < destination.Length; i++)
            destination[i] = (float)random.Uniform(low[i], high[i]);
    }

    internal void CheckLength(int length, string name)
    {
        if (length != low.Length)
            throw new ArgumentException($"{name} has {length} entries but the space has {low.Length} dimensions");
    }

    /// <inheritdoc />
    public override string ToString() => $"Box({Dimension})";
}
