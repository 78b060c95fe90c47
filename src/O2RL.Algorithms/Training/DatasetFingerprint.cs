using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using O2RL.Data;

namespace O2RL.Algorithms.Training;

/// <summary>
/// What identifies the dataset an offline run trains on: its row count, dimensions and a CRC-32C over every
/// array of the file as read (observations, actions, rewards, terminals, timeouts, next observations). A
/// training state records it so that a resume on another (or a regenerated) file is refused instead of
/// silently mixing two datasets in one run. The checksum covers the raw file, before any reward map or
/// normalisation, so it names the data rather than the config.
/// </summary>
public readonly record struct DatasetFingerprint(long Rows, int ObservationDim, int ActionDim, uint Checksum)
{
    const string Prefix = "dataset.";

    /// <summary>The fingerprint of a dataset as read from its file.</summary>
    public static DatasetFingerprint Of(TransitionDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        uint crc = 0xFFFFFFFFu;
        crc = Append(crc, MemoryMarshal.AsBytes(dataset.Observations.AsSpan()));
        crc = Append(crc, MemoryMarshal.AsBytes(dataset.Actions.AsSpan()));
        crc = Append(crc, MemoryMarshal.AsBytes(dataset.Rewards.AsSpan()));
        crc = Append(crc, MemoryMarshal.AsBytes(dataset.Terminals.AsSpan()));
        // Absent optional arrays still change the checksum (a marker byte), so "none" differs from "all false".
        crc = dataset.Timeouts is null ? BitOperations.Crc32C(crc, (byte)0) : Append(BitOperations.Crc32C(crc, (byte)1), MemoryMarshal.AsBytes(dataset.Timeouts.AsSpan()));
        crc = dataset.NextObservations is null ? BitOperations.Crc32C(crc, (byte)0)
            : Append(BitOperations.Crc32C(crc, (byte)1), MemoryMarshal.AsBytes(dataset.NextObservations.AsSpan()));
        return new DatasetFingerprint(dataset.RowCount, dataset.ObservationDim, dataset.ActionDim, ~crc);
    }

    /// <summary>Stores the fingerprint in a training state.</summary>
    public void Save(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.SetCounter(Prefix + "rows", Rows);
        state.SetCounter(Prefix + "observation_dim", ObservationDim);
        state.SetCounter(Prefix + "action_dim", ActionDim);
        state.SetCounter(Prefix + "checksum", (ulong)Checksum);
    }

    /// <summary>Throws <see cref="InvalidDataException"/> (one line) when <paramref name="state"/> was trained on another dataset.</summary>
    public void CheckSameAs(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.HasCounter(Prefix + "checksum"))
            throw new InvalidDataException($"{state.Source ?? "the training state"} records no dataset; it was not written by an offline run");
        var stored = new DatasetFingerprint(state.GetCounter(Prefix + "rows"), (int)state.GetCounter(Prefix + "observation_dim"),
            (int)state.GetCounter(Prefix + "action_dim"), (uint)state.GetUnsignedCounter(Prefix + "checksum"));
        if (stored != this)
            throw new InvalidDataException($"{state.Source ?? "the training state"} was trained on another dataset ({stored}) than this run's ({this}); resume with the dataset file the run started with");
    }

    /// <summary>"N rows, obs D, action A, CRC-32C 0x…".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Rows:N0} rows, obs {ObservationDim}, action {ActionDim}, CRC-32C 0x{Checksum:X8}");

    /// <summary>Extends a running CRC-32C (hardware instruction where the CPU has one) by <paramref name="bytes"/>.</summary>
    static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong word in words) crc = BitOperations.Crc32C(crc, word);
        foreach (byte b in bytes[(words.Length * sizeof(ulong))..]) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }
}
