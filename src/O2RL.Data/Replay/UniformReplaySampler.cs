using O2RL.Engine;

namespace O2RL.Data.Replay;

/// <summary>
/// Uniform minibatches (with replacement) from one device buffer, e.g. the offline buffer of CQL/IQL/TD3+BC
/// pre-training or O2SAC's stages A and B, drawn from a device Philox stream; the index vector and the batch are
/// allocated once, so <see cref="Sample"/> allocates nothing and stays on the device.
/// </summary>
public sealed class UniformReplaySampler : IDisposable
{
    readonly IndexTensor indices;
    bool ownsBuffer;

    /// <summary>A sampler of <paramref name="batchSize"/> rows from <paramref name="buffer"/> (not owned: disposing the sampler keeps the buffer).</summary>
    public UniformReplaySampler(DeviceReplayBuffer buffer, int batchSize, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        Buffer = buffer;
        ArgumentNullException.ThrowIfNull(random);
        Random = random;
        Batch = new TransitionBatch(buffer.Backend, batchSize, buffer.ObservationDim, buffer.ActionDim);
        indices = buffer.Backend.AllocateIndices(batchSize);
    }

    /// <summary>Loads <paramref name="transitions"/> into a new buffer of exactly their size and returns a sampler over it (which owns that buffer).</summary>
    public static UniformReplaySampler OverTransitions(Backend backend, Transitions transitions, int batchSize, DeviceRandom random)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        if (transitions.Count == 0) throw new ArgumentException("cannot sample from zero transitions");
        var buffer = new DeviceReplayBuffer(backend, transitions.Count, transitions.ObservationDim, transitions.ActionDim);
        buffer.AddRange(transitions);
        return new UniformReplaySampler(buffer, batchSize, random) { ownsBuffer = true };
    }

    /// <summary>The buffer sampled from.</summary>
    public DeviceReplayBuffer Buffer { get; }

    /// <summary>Philox stream of the sample indices (advances by the batch size per sample).</summary>
    public DeviceRandom Random { get; }

    /// <summary>The batch every <see cref="Sample"/> refills.</summary>
    public TransitionBatch Batch { get; }

    /// <summary>Draws one minibatch into <see cref="Batch"/> and returns it.</summary>
    public TransitionBatch Sample()
    {
        Buffer.SampleInto(indices, Batch, Random);
        return Batch;
    }

    /// <summary>Releases the batch, the indices and, when created by <see cref="OverTransitions"/>, the buffer.</summary>
    public void Dispose()
    {
        Batch.Dispose();
        indices.Storage.Dispose();
        if (ownsBuffer) Buffer.Dispose();
    }
}
