namespace O2RL.Engine.Checkpoints;

/// <summary>
/// A named float32 tensor held in host memory, as stored in a checkpoint: the name as in a PyTorch
/// <c>state_dict</c> (e.g. <c>actor.net.0.weight</c>), the dimensions outermost first, and the elements in
/// row-major ('C') order. A scalar has the empty shape <c>[]</c> and one element.
/// </summary>
/// <param name="Name">Tensor name, unique within a checkpoint.</param>
/// <param name="Shape">Dimensions, outermost first; <c>Data.Length</c> must equal their product.</param>
/// <param name="Data">Elements in row-major order.</param>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>The shape as text, e.g. <c>[256, 17]</c>, for messages.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>The tensors and header metadata read from a checkpoint file.</summary>
public sealed class Checkpoint
{
    /// <summary>Creates a checkpoint from already validated parts.</summary>
    /// <param name="tensors">Tensors by name.</param>
    /// <param name="metadata">Header metadata (string to string).</param>
    public Checkpoint(IReadOnlyDictionary<string, NamedTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(metadata);
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Tensors by name, in the order of their data in the file.</summary>
    public IReadOnlyDictionary<string, NamedTensor> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> entries (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// The tensor called <paramref name="name"/>, checked against the shape the caller expects, so a
    /// checkpoint from another network configuration fails with both shapes in the message.
    /// </summary>
    /// <param name="name">Tensor name.</param>
    /// <param name="expectedShape">The shape the caller needs.</param>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="ArgumentException">The stored shape differs from <paramref name="expectedShape"/>.</exception>
    public NamedTensor GetTensor(string name, params int[] expectedShape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(expectedShape);
        if (!Tensors.TryGetValue(name, out NamedTensor? tensor))
            throw new KeyNotFoundException(
                $"the checkpoint has no tensor '{name}' (it has {Tensors.Count}: {string.Join(", ", Tensors.Keys.Take(20))}{(Tensors.Count > 20 ? ", …" : "")})");
        if (!tensor.Shape.AsSpan().SequenceEqual(expectedShape))
            throw new ArgumentException(
                $"tensor '{name}' has shape {tensor.ShapeText} in the checkpoint but [{string.Join(", ", expectedShape)}] is expected");
        return tensor;
    }
}
