using System.Text;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// Replaces a file all at once: the new content goes to a temporary file in the same folder (same file system, so
/// the final rename is atomic), is flushed to disk, and is then moved over the target. A crash or an exception at any
/// point leaves either the old file or the new one, never a mix, and no temporary file behind when the writer throws.
/// </summary>
public static class AtomicFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/> (UTF-8, no byte-order mark).</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
            stream.Write(bytes);
        });

    /// <summary>Replaces <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        // A span cannot be captured by the writer lambda, so copy once; files written this way are small.
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with whatever <paramref name="writer"/> writes to the stream it is given
    /// (checkpoints, event files). If the writer throws, the temporary file is deleted, the target is left as it
    /// was, and the exception propagates.
    /// </summary>
    public static void Write(string path, Action<Stream> writer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writer);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' has no parent folder", nameof(path));
        Directory.CreateDirectory(directory);
        // Dot-prefixed and suffixed with ".tmp" so readers that glob for the real names never pick it up; the name is
        // cut to 100 characters so that the process id and GUID added to a long name stay under the 255-byte limit.
        string name = Path.GetFileName(fullPath);
        string temporary = Path.Combine(directory, $".{(name.Length > 100 ? name[..100] : name)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                writer(stream);
                // Data on disk before the rename makes it visible; otherwise a power cut could expose an empty file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && ex.Message.Contains(temporary, StringComparison.Ordinal))
        {
            // The system's reason names the temporary file, which the caller never heard of: name the file they asked for.
            TryDelete(temporary);
            throw new IOException(ex.Message.Replace(temporary, fullPath, StringComparison.Ordinal), ex);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { /* the original exception matters more than a leftover temporary file */ }
        catch (UnauthorizedAccessException) { }
    }
}
