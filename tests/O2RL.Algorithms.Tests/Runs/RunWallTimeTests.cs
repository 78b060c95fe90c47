using System.Text.Json;
using O2RL.Algorithms.Runs;
using Xunit;

namespace O2RL.Algorithms.Tests.Runs;

/// <summary><c>wall_time.json</c>: a run's wall time over all of its sessions.</summary>
public class RunWallTimeTests
{
    static string Record(params double[] seconds) => JsonSerializer.Serialize(new
    {
        seconds = seconds.Sum(),
        sessions = seconds.Select((s, i) => new { started_utc = $"2026-11-2{i}T10:00:00.0000000+00:00", seconds = s }).ToArray(),
    });

    static List<(string StartedUtc, double Seconds)> Stored(string directory) =>
        RunWallTime.ReadSessions(File.ReadAllText(Path.Combine(directory, RunWallTime.FileName)));

    [Fact]
    public void ANewRunRecordsOneSessionFromItsStartAndItsLengthWhenItEnds()
    {
        using var temp = new TemporaryFolder();
        Directory.CreateDirectory(temp.Combine("run"));
        var wallTime = RunWallTime.Start(temp.Combine("run"));
        // Written at once, so a run killed before the first timer tick still has its session on disk.
        var atStart = Stored(temp.Combine("run"));
        Assert.Single(atStart);
        Thread.Sleep(60);
        wallTime.Dispose();
        var stored = Stored(temp.Combine("run"));
        Assert.Equal(atStart[0].StartedUtc, stored.Single().StartedUtc);
        Assert.InRange(stored[0].Seconds, 0.05, 30);
        Assert.Equal(1, wallTime.Sessions);
        Assert.Null(wallTime.UnreadableEarlierRecord);
        // The clock stops at Dispose: the total no longer grows.
        double total = wallTime.TotalSeconds;
        Thread.Sleep(20);
        Assert.Equal(total, wallTime.TotalSeconds);
        Assert.Equal(Math.Round(total, 3), stored[0].Seconds, 3);
    }

    [Fact]
    public void AResumedRunAddsItsSessionToTheEarlierOnes()
    {
        using var temp = new TemporaryFolder();
        string run = temp.Combine("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunWallTime.FileName), Record(1200.5, 30.25));
        using (var wallTime = RunWallTime.Start(run))
        {
            Assert.Equal(3, wallTime.Sessions);
            Assert.InRange(wallTime.TotalSeconds, 1230.75, 1260);
        }
        var stored = Stored(run);
        Assert.Equal(3, stored.Count);
        Assert.Equal([1200.5, 30.25], stored.Take(2).Select(s => s.Seconds));
        Assert.Equal("2026-11-20T10:00:00.0000000+00:00", stored[0].StartedUtc);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, RunWallTime.FileName)));
        Assert.InRange(json.RootElement.GetProperty("seconds").GetDouble(), 1230.75, 1260);
    }

    [Theory]
    [InlineData("{\"seconds\": 3, \"sessions\": [{\"started_utc\": \"x\", \"seconds\": -1}]")]
    [InlineData("{\"seconds\": 3}")]
    [InlineData("{\"sessions\": [{\"started_utc\": \"x\", \"seconds\": \"3\"}]}")]
    [InlineData("[1, 2]")]
    [InlineData("{\"sessions\": [{\"seconds\": 3}]}")]
    [InlineData("not json")]
    public void AnUnreadableEarlierRecordIsNamedAndCountsAsNoTime(string text)
    {
        using var temp = new TemporaryFolder();
        string run = temp.Combine("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunWallTime.FileName), text);
        using (var wallTime = RunWallTime.Start(run))
        {
            Assert.Contains(RunWallTime.FileName, wallTime.UnreadableEarlierRecord);
            Assert.Contains("not counted", wallTime.UnreadableEarlierRecord);
            Assert.Equal(1, wallTime.Sessions);
            Assert.InRange(wallTime.TotalSeconds, 0, 30);
        }
        // The record starts afresh with this session.
        Assert.Single(Stored(run));
    }

    [Fact]
    public void AFolderRemovedUnderTheRunIsNotMadeAgain()
    {
        using var temp = new TemporaryFolder();
        string run = temp.Combine("run");
        Directory.CreateDirectory(run);
        var wallTime = RunWallTime.Start(run);
        Directory.Delete(run, recursive: true);
        wallTime.Dispose();
        Assert.False(Directory.Exists(run));
    }
}
