namespace O2RL.Kernels;

/// <summary>Pointwise nonlinearity applied in a GEMM epilogue or by an activation layer.</summary>
public enum Activation
{
    /// <summary>f(x) = x.</summary>
    Identity = 0,
    /// <summary>f(x) = max(x, 0); f'(x) = 1 if y &gt; 0 else 0 (read from the output y).</summary>
    Relu = 1,
    /// <summary>f(x) = tanh(x); f'(x) = 1 − y² (read from the output y).</summary>
    Tanh = 2,
}

/// <summary>Elementwise unary op y = f(x; a, b). The scalars a and b are used only where stated.</summary>
public enum UnaryOp
{
    /// <summary>y = a·x + b (scale, shift, negate, copy).</summary>
    Affine = 0,
    /// <summary>y = exp(x).</summary>
    Exp = 1,
    /// <summary>y = log(x).</summary>
    Log = 2,
    /// <summary>y = tanh(x).</summary>
    Tanh = 3,
    /// <summary>y = log(1 + exp(x)), computed stably as max(x, 0) + log(1 + exp(−|x|)).</summary>
    Softplus = 4,
    /// <summary>y = min(max(x, a), b).</summary>
    Clamp = 5,
    /// <summary>y = x².</summary>
    Square = 6,
    /// <summary>y = |x|.</summary>
    Abs = 7,
    /// <summary>y = √x.</summary>
    Sqrt = 8,
    /// <summary>y = atanh(x) = ½(log(1 + x) − log(1 − x)).</summary>
    Atanh = 9,
    /// <summary>y = 1 if x &gt; a else 0 (masks for select and for clamp gradients).</summary>
    Step = 10,
}

/// <summary>Elementwise binary op z = f(α·x, β·y).</summary>
public enum BinaryOp
{
    /// <summary>z = α·x + β·y.</summary>
    Add = 0,
    /// <summary>z = (α·x)·(β·y).</summary>
    Mul = 1,
    /// <summary>z = (α·x)/(β·y).</summary>
    Div = 2,
    /// <summary>z = min(α·x, β·y).</summary>
    Min = 3,
    /// <summary>z = max(α·x, β·y).</summary>
    Max = 4,
}

/// <summary>How the second operand y of a binary op is indexed for element i of x (shape [rows, cols]).</summary>
public enum Broadcast
{
    /// <summary>y has the shape of x: y[i].</summary>
    None = 0,
    /// <summary>y is one row of length cols repeated down the rows: y[i mod cols].</summary>
    Row = 1,
    /// <summary>y is one column of length rows repeated across the columns: y[i / cols].</summary>
    Column = 2,
    /// <summary>y is a single value: y[0].</summary>
    Scalar = 3,
}

/// <summary>Scalar math shared by the reference, SIMD and GPU paths so every backend computes the same formula.</summary>
public static class OpMath
{
    /// <summary>Stable softplus: max(x, 0) + log(1 + exp(−|x|)).</summary>
    public static float Softplus(float x) => MathF.Max(x, 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(x)));

    /// <summary>Applies a unary op to one value.</summary>
    public static float Unary(UnaryOp op, float x, float a, float b) => op switch
    {
        UnaryOp.Affine => a * x + b,
        UnaryOp.Exp => MathF.Exp(x),
        UnaryOp.Log => MathF.Log(x),
        UnaryOp.Tanh => MathF.Tanh(x),
        UnaryOp.Softplus => Softplus(x),
        UnaryOp.Clamp => MathF.Min(MathF.Max(x, a), b),
        UnaryOp.Square => x * x,
        UnaryOp.Abs => MathF.Abs(x),
        UnaryOp.Sqrt => MathF.Sqrt(x),
        UnaryOp.Atanh => 0.5f * (MathF.Log(1f + x) - MathF.Log(1f - x)),
        UnaryOp.Step => x > a ? 1f : 0f,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op"),
    };

    /// <summary>Applies a binary op to one pair of values.</summary>
    public static float Binary(BinaryOp op, float x, float y, float alpha, float beta) => op switch
    {
        BinaryOp.Add => alpha * x + beta * y,
        BinaryOp.Mul => alpha * x * (beta * y),
        BinaryOp.Div => alpha * x / (beta * y),
        BinaryOp.Min => MathF.Min(alpha * x, beta * y),
        BinaryOp.Max => MathF.Max(alpha * x, beta * y),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op"),
    };

    /// <summary>Applies an activation to one value.</summary>
    public static float Activate(Activation activation, float x) => activation switch
    {
        Activation.Identity => x,
        Activation.Relu => Relu(x),
        Activation.Tanh => MathF.Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };

    /// <summary>
    /// max(x, 0) with NaN kept, as PyTorch's relu and as <c>Vector.Max</c> (IEEE maximum) in the vector loops: a NaN
    /// pre-activation (from a NaN weight or input) must reach the loss and stop the run, not become a silent dead unit.
    /// −0 maps to +0, like the vector loops.
    /// </summary>
    public static float Relu(float x) => x <= 0f ? 0f : x;

    /// <summary>Derivative of an activation expressed through its output y.</summary>
    public static float ActivationDerivativeFromOutput(Activation activation, float y) => activation switch
    {
        Activation.Identity => 1f,
        Activation.Relu => y > 0f ? 1f : 0f,
        Activation.Tanh => 1f - y * y,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation"),
    };

    /// <summary>Index of the second operand for element i under a broadcast mode.</summary>
    public static int BroadcastIndex(Broadcast broadcast, int i, int cols) => broadcast switch
    {
        Broadcast.None => i,
        Broadcast.Row => i % cols,
        Broadcast.Column => i / cols,
        _ => 0,
    };
}
