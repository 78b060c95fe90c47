using Xunit;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

public class AtomicFileTests
{
    [Fact]
    public void WriteAllText_ReplacesContentAndLeavesNoTemporaryFile()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("config.json");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second, longer content");
        Assert.Equal("second, longer content", File.ReadAllText(path));
        Assert.Equal(["config.json"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void WriterThatThrowsMidway_LeavesExistingFileUnchangedAndNoPartialFile()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("checkpoint.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        var ex = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[4096]);
            throw new InvalidOperationException("disk full halfway");
        }));
        Assert.Equal("disk full halfway", ex.Message);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void AFailedWriteNamesTheTargetNotTheTemporaryFile()
    {
        // /proc takes no new files: the system's reason named the hidden temporary file, which the caller never gave.
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc")) Assert.Skip("needs Linux's /proc, a folder that refuses new files even to root");
        var ex = Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllText("/proc/o2rl-plot.png", "content"));
        Assert.DoesNotContain(".tmp", ex.Message);
        Assert.Contains("/proc/o2rl-plot.png", ex.Message);
    }

    [Fact]
    public void ALongFileNameStillFits()
    {
        // The temporary name adds the process id and a GUID; for a name near the 255-byte limit it used to overflow.
        using var folder = new TemporaryFolder();
        string path = folder.Combine(new string('r', 240) + ".json");
        AtomicFile.WriteAllText(path, "content");
        Assert.Equal("content", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void WriterThatThrows_CreatesNothingWhenTargetIsNew()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("sub", "new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream => { stream.WriteByte(7); throw new IOException("boom"); }));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(folder.Combine("sub")));
    }
}
