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
        : this($"checkpoint '{filePath}' is not a valid safetensors file: {problem}", filePath, problem, innerException)
    {
    }

    CheckpointFormatException(string message, string filePath, string problem, Exception? innerException)
        : base(message, innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>
    /// A well-formed safetensors file whose tensors or metadata are not what the reader needs (another network
    /// layout, a missing entry): said as such, since "not a valid safetensors file" would send the user looking for
    /// a corrupt file.
    /// </summary>
    public static CheckpointFormatException Content(string filePath, string problem) =>
        new($"checkpoint '{filePath}' cannot be used here: {problem}", filePath, problem, null);

    /// <summary>The file (or stream description) being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
