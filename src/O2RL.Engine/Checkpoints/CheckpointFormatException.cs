namespace O2RL.Engine.Checkpoints;

/// <summary>
/// A checkpoint file is corrupt, truncated or uses something this reader does not support. The message
/// names the file and the problem.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="filePath"/> with a description of the problem.</summary>
    /// <param name="filePath">The file (or stream description) being read.</param>
    /// <param name="problem">What is wrong, with the offending values.</param>
    /// <param name="innerException">The low-level error, if any (e.g. a JSON parse error).</param>
    public CheckpointFormatException(string filePath, string problem, Exception? innerException = null)
        : base($"checkpoint '{filePath}' is not a valid safetensors file: {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file (or stream description) being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
