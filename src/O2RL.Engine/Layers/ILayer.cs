namespace O2RL.Engine;

/// <summary>
/// A layer with an explicit forward and backward pass and no graph. Forward keeps what backward needs in
/// buffers allocated once per (slot, batch size); a network evaluated on several inputs before one backward
/// pass uses one slot per input (e.g. Q(s, a) in slot 0 and Q(s, ã) in slot 1).
/// </summary>
public interface ILayer
{
    /// <summary>Computes the output for an input; the returned tensor is owned by the layer and valid until the
    /// next forward in the same slot with the same batch size. The input must stay unchanged until backward.</summary>
    Tensor Forward(Tensor input, int slot = 0);

    /// <summary>Accumulates parameter gradients (+=) for the last forward in the slot and returns ∂L/∂input, or
    /// null when <paramref name="needInputGradient"/> is false. With <paramref name="accumulateParameterGradients"/>
    /// false the layer only propagates (a loss that must not train this network, e.g. the actor loss through a
    /// critic), which also skips the weight-gradient GEMMs.</summary>
    Tensor? Backward(Tensor outputGradient, int slot = 0, bool needInputGradient = true, bool accumulateParameterGradients = true);
}

/// <summary>Argument checks shared by the layers' backward passes.</summary>
internal static class LayerChecks
{
    /// <summary>
    /// The output gradient must be read as the output of the last forward in the slot is: the same length and row
    /// width ([E·B, out] for [E, B, out] is fine). An element-wise kernel given a transposed gradient of the same length
    /// would otherwise compute a wrong gradient silently, and a GEMM would fail with a message naming neither layer nor
    /// gradient.
    /// </summary>
    public static void OutputGradient(string kind, string layerName, Tensor output, Tensor outputGradient)
    {
        ArgumentNullException.ThrowIfNull(outputGradient);
        if (outputGradient.Length != output.Length || outputGradient.Cols != output.Cols || outputGradient.Rank < 2)
            throw new ArgumentException(
                $"{kind} {layerName}: output gradient [{outputGradient.ShapeText}] does not match the output [{output.ShapeText}] of the last forward in this slot");
    }
}

/// <summary>Per-(slot, batch size) buffers, allocated on first use and reused afterwards.</summary>
internal sealed class BufferCache<T> where T : class
{
    readonly Dictionary<(int Slot, int Batch), T> cache = [];
    readonly Dictionary<int, T> last = [];

    /// <summary>Looks up the buffers of (slot, batch) and marks them as the slot's latest; false when absent.</summary>
    public bool TryGet(int slot, int batch, out T buffers)
    {
        if (!cache.TryGetValue((slot, batch), out var found)) { buffers = null!; return false; }
        last[slot] = found;
        buffers = found;
        return true;
    }

    /// <summary>Stores new buffers for (slot, batch) and marks them as the slot's latest.</summary>
    public void Add(int slot, int batch, T buffers)
    {
        cache[(slot, batch)] = buffers;
        last[slot] = buffers;
    }

    /// <summary>The buffers of the last forward in a slot.</summary>
    public T Last(int slot, string layer) =>
        last.TryGetValue(slot, out var buffers) ? buffers
        : throw new InvalidOperationException($"{layer}: backward in slot {slot} without a forward pass in that slot");
}
