namespace O2RL.Engine;

/// <summary>One named parameter inside a flat buffer, with PyTorch's name and shape (weights [outDim, inDim]).</summary>
public sealed record ParameterEntry(string Name, int[] Shape, int Offset, int Length);

/// <summary>
/// One contiguous parameter buffer and one gradient buffer per network (llm.c style): Adam, Polyak averaging,
/// clipping, zeroing and checkpointing are each a single op over one buffer. Layers take named views of it in
/// order with <see cref="Take"/>.
/// </summary>
public sealed class ParameterSet
{
    readonly List<ParameterEntry> entries = [];
    int cursor;

    /// <summary>A zeroed parameter/gradient pair of the given total length.</summary>
    public ParameterSet(Backend backend, int totalLength)
    {
        Backend = backend;
        Values = backend.Allocate(totalLength);
        Gradients = backend.Allocate(totalLength);
    }

    /// <summary>The backend holding the buffers.</summary>
    public Backend Backend { get; }

    /// <summary>All parameters, flat.</summary>
    public Tensor Values { get; }

    /// <summary>All gradients, flat, aligned with <see cref="Values"/>.</summary>
    public Tensor Gradients { get; }

    /// <summary>Total number of scalars.</summary>
    public int Length => Values.Length;

    /// <summary>Named entries in buffer order.</summary>
    public IReadOnlyList<ParameterEntry> Entries => entries;

    /// <summary>Reserves the next <c>product(shape)</c> scalars under a name; returns (value view, gradient view).</summary>
    public (Tensor Value, Tensor Gradient) Take(string name, params int[] shape)
    {
        int length = Tensor.ShapeLength(shape);
        if (cursor + length > Length)
            throw new InvalidOperationException($"parameter '{name}' [{string.Join(", ", shape)}] overflows a set of {Length} scalars at offset {cursor}");
        if (entries.Any(e => e.Name == name)) throw new ArgumentException($"duplicate parameter name '{name}'");
        entries.Add(new ParameterEntry(name, (int[])shape.Clone(), cursor, length));
        var views = (Values.Slice(cursor, shape), Gradients.Slice(cursor, shape));
        cursor += length;
        return views;
    }

    /// <summary>True once every scalar has been taken by a layer.</summary>
    public bool IsFullyAssigned => cursor == Length;

    /// <summary>Sets every gradient to zero (call before each loss's backward pass).</summary>
    public void ZeroGradients() => Backend.Fill(Gradients, 0f);

    /// <summary>Copies all parameter values from another set of the same layout (target networks, snapshots).</summary>
    public void CopyValuesFrom(ParameterSet source)
    {
        CheckSameLayout(source);
        Backend.Copy(source.Values, Values);
    }

    /// <summary>θ̄ ← (1 − τ)·θ̄ + τ·θ from a source set of the same layout.</summary>
    public void PolyakFrom(ParameterSet source, float tau)
    {
        CheckSameLayout(source);
        Backend.Polyak(Values, source.Values, tau);
    }

    /// <summary>Host copy of one named parameter.</summary>
    public float[] Read(string name) => Values.Slice(Find(name).Offset, Find(name).Shape).ToArray();

    /// <summary>Writes one named parameter from host values (shape checked by length).</summary>
    public void Write(string name, ReadOnlySpan<float> values)
    {
        var entry = Find(name);
        if (values.Length != entry.Length)
            throw new ArgumentException($"parameter '{name}' has {entry.Length} values ([{string.Join(", ", entry.Shape)}]), got {values.Length}");
        Backend.Upload(values, Values.Slice(entry.Offset, entry.Shape));
    }

    /// <summary>The entry with a name, or an error listing the names present.</summary>
    public ParameterEntry Find(string name) =>
        entries.FirstOrDefault(e => e.Name == name)
        ?? throw new KeyNotFoundException($"no parameter '{name}'; present: {string.Join(", ", entries.Select(e => e.Name))}");

    void CheckSameLayout(ParameterSet other)
    {
        if (other.Length != Length || other.entries.Count != entries.Count)
            throw new ArgumentException($"parameter layouts differ: {other.Length} scalars in {other.entries.Count} entries vs {Length} in {entries.Count}");
    }
}

/// <summary>Moves parameter sets to and from checkpoint tensors, with PyTorch-style names.</summary>
public static class ParameterSetCheckpoints
{
    /// <summary>Host copies of every parameter, named <c>{prefix}.{entry name}</c> (or the entry name when prefix is empty).</summary>
    public static IEnumerable<Checkpoints.NamedTensor> ToNamedTensors(this ParameterSet parameters, string prefix)
    {
        float[] all = parameters.Values.ToArray();
        foreach (var entry in parameters.Entries)
            yield return new Checkpoints.NamedTensor(Join(prefix, entry.Name), (int[])entry.Shape.Clone(), all.AsSpan(entry.Offset, entry.Length).ToArray());
    }

    /// <summary>
    /// Loads every parameter from a checkpoint (names <c>{prefix}.{entry name}</c>), checking shapes; fails on the
    /// first missing or mis-shaped tensor with both shapes and the names present in the message.
    /// </summary>
    public static void LoadFrom(this ParameterSet parameters, Checkpoints.Checkpoint checkpoint, string prefix)
    {
        var all = new float[parameters.Length];
        foreach (var entry in parameters.Entries)
        {
            var tensor = checkpoint.GetTensor(Join(prefix, entry.Name), entry.Shape);
            // A diverged run's weights would load silently and act as NaN; say which tensor is broken instead.
            int bad = FirstNonFinite(tensor.Data);
            if (bad >= 0)
                throw new ArgumentException(
                    $"tensor '{Join(prefix, entry.Name)}' has the non-finite value {tensor.Data[bad]} at element {bad}; the checkpoint holds diverged weights");
            tensor.Data.CopyTo(all, entry.Offset);
        }
        parameters.Backend.Upload(all, parameters.Values);
    }

    static int FirstNonFinite(float[] values)
    {
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;
}
