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
    public void WriterThatThrows_CreatesNothingWhenTargetIsNew()
    {
        using var folder = new TemporaryFolder();
        string path = folder.Combine("sub", "new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream => { stream.WriteByte(7); throw new IOException("boom"); }));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(folder.Combine("sub")));
    }
}
