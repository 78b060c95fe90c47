using O2RL.Algorithms.Tests.Runs;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

public sealed class TrainingStateTests
{
    sealed class MappedAgent(Backend backend)
    {
        public readonly Tensor Values = backend.FromArray([1.5f, -2f, 3.25f], 3);
        public readonly DeviceRandom Random = new(11);
        public long Updates;
        public double Noise;

        public void Map(TrainingStateMap map)
        {
            map.Tensor("agent.values", Values);
            map.Random("agent.random", Random);
            Updates = map.Count("agent.updates", Updates);
            Noise = map.Real("agent.noise", Noise);
        }
    }

    [Fact]
    public void AStateMapRestoresWhatItSavedUnderTheSameNames()
    {
        using var backend = new CpuBackend(1);
        var source = new MappedAgent(backend) { Updates = 42, Noise = 0.1 };
        source.Random.Normal(backend.Allocate(5));
        var state = new TrainingState();
        source.Map(TrainingStateMap.Saving(state));
        Assert.Equal(["agent.values"], state.TensorNames);

        var target = new MappedAgent(backend);
        backend.Fill(target.Values, 0f);
        target.Map(TrainingStateMap.Restoring(state));
        Assert.Equal(source.Values.ToArray(), target.Values.ToArray());
        Assert.Equal(source.Random.Counter, target.Random.Counter);
        Assert.Equal(42, target.Updates);
        Assert.Equal(0.1, target.Noise);

        // A negative count is refused on restore (no count of updates is negative).
        state.SetCounter("agent.updates", -1L);
        var error = Assert.Throws<InvalidDataException>(() => new MappedAgent(backend).Map(TrainingStateMap.Restoring(state)));
        Assert.Contains("agent.updates", error.Message);
        Assert.Throws<ArgumentNullException>(() => TrainingStateMap.Saving(null!));
    }

    static Transitions Rows(int count, float offset)
    {
        float[] Range(int n) => [.. Enumerable.Range(0, n).Select(i => offset + i)];
        return new Transitions(2, 1, Range(2 * count), Range(count), Range(count), Range(2 * count), [.. Enumerable.Range(0, count).Select(i => (float)(i % 2))]);
    }

    static TrainingState RoundTrip(TrainingState state, TemporaryFolder folder)
    {
        string path = folder.Combine("state.safetensors");
        state.Write(path);
        return TrainingState.Read(path);
    }

    [Fact]
    public void AWrappedRingIsRestoredSlotForSlotOverWhateverTheNewBufferHolds()
    {
        using var backend = new CpuBackend(1);
        using var folder = new TemporaryFolder();
        using var original = new DeviceReplayBuffer(backend, 5, 2, 1);
        original.AddRange(Rows(7, 0f));                 // wraps: write position 2
        var state = new TrainingState();
        state.SetReplayBuffer("replay", original);

        using var restored = new DeviceReplayBuffer(backend, 5, 2, 1);
        restored.AddRange(Rows(3, 100f));               // e.g. offline rows copied in at construction
        RoundTrip(state, folder).RestoreReplayBuffer("replay", restored);
        Assert.Equal(original.Count, restored.Count);
        Assert.Equal(original.WritePosition, restored.WritePosition);
        Assert.Equal(original.Rows.ToArray(), restored.Rows.ToArray());
    }

    [Fact]
    public void APartlyFilledBufferKeepsItsPrefilledRowsAndRefusesOtherOnes()
    {
        using var backend = new CpuBackend(1);
        using var folder = new TemporaryFolder();
        using var original = new DeviceReplayBuffer(backend, 10, 2, 1);
        original.AddRange(Rows(3, 100f));
        original.AddRange(Rows(2, 0f));
        var state = RoundTrip(Save(original), folder);

        using var same = new DeviceReplayBuffer(backend, 10, 2, 1);
        same.AddRange(Rows(3, 100f));
        state.RestoreReplayBuffer("replay", same);
        Assert.Equal(5, same.WritePosition);
        Assert.Equal(original.Rows.ToArray(), same.Rows.ToArray());

        using var other = new DeviceReplayBuffer(backend, 10, 2, 1);
        other.AddRange(Rows(3, 200f));
        Assert.Throws<InvalidDataException>(() => state.RestoreReplayBuffer("replay", other));
        using var smaller = new DeviceReplayBuffer(backend, 8, 2, 1);
        Assert.Throws<InvalidDataException>(() => state.RestoreReplayBuffer("replay", smaller));

        static TrainingState Save(DeviceReplayBuffer buffer)
        {
            var s = new TrainingState();
            s.SetReplayBuffer("replay", buffer);
            return s;
        }
    }

    [Fact]
    public void CountersRealsAndOptimisersRoundTripExactly()
    {
        using var backend = new CpuBackend(1);
        using var folder = new TemporaryFolder();
        var parameters = backend.FromArray([1f, 2f, 3f], 3);
        var gradients = backend.FromArray([0.5f, -1f, 2f], 3);
        var adam = new Adam(parameters, gradients, 0.1f);
        adam.Step();
        adam.LearningRate = 0.0123456789f;
        var random = new DeviceRandom(42, 977);
        var state = new TrainingState();
        state.SetAdam("opt", adam);
        state.SetRandom("rng", random);
        state.SetReal("pi", Math.PI);
        state.SetReal("nan", double.NaN);
        state.SetCounter("big", ulong.MaxValue);
        var read = RoundTrip(state, folder);

        var other = new Adam(backend.FromArray([1f, 2f, 3f], 3), backend.FromArray([0f, 0f, 0f], 3), 0.1f);
        read.RestoreAdam("opt", other);
        Assert.Equal(adam.FirstMoment.ToArray(), other.FirstMoment.ToArray());
        Assert.Equal(adam.SecondMoment.ToArray(), other.SecondMoment.ToArray());
        Assert.Equal(1, other.StepCount);
        Assert.Equal(0.0123456789f, other.LearningRate);
        var rng = new DeviceRandom(42);
        read.RestoreRandom("rng", rng);
        Assert.Equal(977UL, rng.Counter);
        Assert.Throws<InvalidDataException>(() => read.RestoreRandom("rng", new DeviceRandom(43)));
        Assert.Equal(Math.PI, read.GetReal("pi"));
        Assert.True(double.IsNaN(read.GetReal("nan")));
        Assert.Equal(ulong.MaxValue, read.GetUnsignedCounter("big"));
        Assert.Throws<InvalidDataException>(() => read.GetCounter("missing"));
        Assert.Null(read.FirstNonFiniteTensor());
        state.SetTensor("bad", [2], [1f, float.NaN]);
        Assert.Equal("bad", state.FirstNonFiniteTensor());
    }
}
