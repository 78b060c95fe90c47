using O2RL.Kernels;

namespace O2RL.Engine.Distributions;

/// <summary>Constants and small op compositions shared by the policy distributions.</summary>
internal static class DistributionMath
{
    /// <summary>½·ln(2π), the per-coordinate constant of a Gaussian log-density.</summary>
    public const double HalfLogTwoPi = 0.91893853320467274178;

    /// <summary>ln 2, from the stable tanh log-Jacobian 2·(ln 2 − u − softplus(−2u)).</summary>
    public const double LogTwo = 0.69314718055994530942;

    /// <summary>
    /// Writes 1 where a clamp changed its input (clampedValue ≠ value) and 0 where it passed the value
    /// through, the positions where a clamp passes no gradient. Equality at the bound counts as passing,
    /// as PyTorch's clamp does. indicator may alias neither input.
    /// </summary>
    public static void ClampedIndicator(Backend backend, Tensor value, Tensor clampedValue, Tensor indicator)
    {
        backend.Binary(BinaryOp.Add, value, clampedValue, indicator, 1f, -1f);
        backend.Unary(UnaryOp.Abs, indicator, indicator);
        backend.Unary(UnaryOp.Step, indicator, indicator, 0f);
    }

    /// <summary>Throws unless the tensor lives on the backend.</summary>
    public static void RequireBackend(Backend backend, Tensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.Backend != backend)
            throw new ArgumentException($"{name} [{tensor.ShapeText}] lives on {tensor.Backend.Name}, not on {backend.Name}", name);
    }

    /// <summary>Throws unless the tensor is read as [rows, cols] with the given sizes.</summary>
    public static void RequireMatrix(Backend backend, Tensor tensor, string name, int rows, int cols)
    {
        RequireBackend(backend, tensor, name);
        if (tensor.Cols != cols || tensor.Rows != rows)
            throw new ArgumentException($"{name} is [{tensor.ShapeText}] but [{rows}, {cols}] was expected", name);
    }

    /// <summary>Throws unless the tensor holds exactly <paramref name="length"/> elements.</summary>
    public static void RequireLength(Backend backend, Tensor tensor, string name, int length)
    {
        RequireBackend(backend, tensor, name);
        if (tensor.Length != length)
            throw new ArgumentException($"{name} is [{tensor.ShapeText}] ({tensor.Length} elements) but {length} elements were expected", name);
    }
}
