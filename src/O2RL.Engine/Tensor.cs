namespace O2RL.Engine;

/// <summary>
/// Backend-owned memory. A storage is allocated once, at set-up, and viewed by any number of tensors;
/// nothing is allocated inside an update.
/// </summary>
public abstract class DeviceStorage : IDisposable
{
    /// <summary>Number of elements.</summary>
    public abstract int Length { get; }

    /// <summary>Releases the device memory.</summary>
    public abstract void Dispose();
}

/// <summary>
/// A contiguous float32 view into a backend storage: a shape, an element offset and the storage.
/// Every op reads a tensor of rank ≥ 2 as [rows, cols] with rows the product of all but the last dimension;
/// a rank-3 tensor [batch, rows, cols] is a batch of matrices (ensembles).
/// </summary>
public sealed class Tensor
{
    internal Tensor(Backend backend, DeviceStorage storage, int offset, int[] shape)
    {
        Backend = backend;
        Storage = storage;
        Offset = offset;
        Shape = shape;
        Length = ShapeLength(shape);
        // long sums: an int sum near int.MaxValue would wrap negative, pass, and let a kernel read outside the storage.
        if (offset < 0 || (long)offset + Length > storage.Length)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"a view of {Length} elements at offset {offset} does not fit a storage of {storage.Length}");
    }

    /// <summary>The backend that owns the storage.</summary>
    public Backend Backend { get; }

    /// <summary>The storage this tensor views.</summary>
    public DeviceStorage Storage { get; }

    /// <summary>Element offset of this view into the storage.</summary>
    public int Offset { get; }

    /// <summary>Dimensions, outermost first. Do not modify.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Last dimension (1 for a rank-0 or rank-1 tensor read as a column).</summary>
    public int Cols => Shape.Length == 0 ? 1 : Shape[^1];

    /// <summary>Product of all but the last dimension.</summary>
    public int Rows => Cols == 0 ? 0 : Length / Cols;

    /// <summary>Leading (batch) dimension of a rank-3 tensor, else 1.</summary>
    public int BatchCount => Shape.Length == 3 ? Shape[0] : 1;

    /// <summary>A view of the same elements with another shape of equal length.</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ShapeLength(shape) != Length)
            throw new ArgumentException($"cannot reshape [{ShapeText}] ({Length} elements) to [{string.Join(", ", shape)}]");
        return new Tensor(Backend, Storage, Offset, (int[])shape.Clone());
    }

    /// <summary>A view of <c>ShapeLength(shape)</c> elements starting <paramref name="elementOffset"/> elements into this tensor.</summary>
    public Tensor Slice(int elementOffset, params int[] shape)
    {
        int length = ShapeLength(shape);
        if (elementOffset < 0 || (long)elementOffset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(elementOffset),
                $"slice [{elementOffset}, {(long)elementOffset + length}) is outside a tensor of {Length} elements");
        return new Tensor(Backend, Storage, Offset + elementOffset, (int[])shape.Clone());
    }

    /// <summary>Rows [firstRow, firstRow + rowCount) of a matrix view, as [rowCount, Cols].</summary>
    public Tensor SliceRows(int firstRow, int rowCount)
    {
        if (firstRow < 0 || rowCount < 0 || (long)firstRow + rowCount > Rows)
            throw new ArgumentOutOfRangeException(nameof(firstRow),
                $"rows [{firstRow}, {(long)firstRow + rowCount}) are outside a matrix of {Rows} rows");
        return Slice(firstRow * Cols, rowCount, Cols);
    }

    /// <summary>Copies the contents to a new host array (for tests, logging and checkpoints, not hot loops).</summary>
    public float[] ToArray()
    {
        var host = new float[Length];
        Backend.Download(this, host);
        return host;
    }

    /// <summary>Shape as text, e.g. "256, 17".</summary>
    public string ShapeText => string.Join(", ", Shape);

    /// <inheritdoc/>
    public override string ToString() => $"Tensor[{ShapeText}] on {Backend.Name}";

    /// <summary>
    /// Whether element-wise pairing of x_i with y_i by position is right: equal lengths, and equal row widths (every op
    /// reads a tensor as [rows, cols]), or one of them a vector once size-1 dimensions are dropped ([B, 1], [1, B] and
    /// [B] pair alike). [4, 2] against [2, 4] (a transposed target) has the same length but would pair the wrong
    /// elements.
    /// </summary>
    internal static bool SameLayout(Tensor x, Tensor y) =>
        x.Length == y.Length && (x.Cols == y.Cols || NonUnitRank(x.Shape) < 2 || NonUnitRank(y.Shape) < 2);

    static int NonUnitRank(int[] shape)
    {
        int rank = 0;
        foreach (int d in shape) if (d != 1) rank++;
        return rank;
    }

    internal static int ShapeLength(int[] shape)
    {
        long length = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"negative dimension {d}");
            length *= d;
        }
        if (length > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(shape), "tensor too large");
        return (int)length;
    }
}

/// <summary>A device-resident vector of int32 indices (batch sampling).</summary>
public sealed class IndexTensor
{
    internal IndexTensor(Backend backend, DeviceStorage storage, int length)
    {
        Backend = backend;
        Storage = storage;
        Length = length;
    }

    /// <summary>The backend that owns the storage.</summary>
    public Backend Backend { get; }

    /// <summary>The storage of int32 values.</summary>
    public DeviceStorage Storage { get; }

    /// <summary>Number of indices.</summary>
    public int Length { get; }

    /// <summary>Copies the indices to a new host array.</summary>
    public int[] ToArray()
    {
        var host = new int[Length];
        Backend.DownloadIndices(this, host);
        return host;
    }
}
