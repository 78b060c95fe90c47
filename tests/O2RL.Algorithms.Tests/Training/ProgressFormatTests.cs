using O2RL.Algorithms.Training;
using Xunit;

namespace O2RL.Algorithms.Tests.Training;

/// <summary>The two progress forms: a bar redrawn in place on a terminal, plain lines when output is redirected.</summary>
public sealed class ProgressFormatTests
{
    [Fact]
    public void OnATerminalOneBarIsRedrawnInPlaceAndEndsWithANewline()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, "online", 1000, TimeSpan.Zero, redrawInPlace: true);
        progress.Report(100, double.NaN);
        progress.Report(500, -312.25);
        progress.Report(1000, -150.0);
        string text = output.ToString();
        Assert.Equal(3, text.Count(c => c == '\r'));
        Assert.Single(text.Split('\n'), l => l.Length > 0);       // one physical line until the end
        Assert.EndsWith(Environment.NewLine, text);
        var frames = text.TrimEnd().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("online [##.", frames[0]);
        Assert.Contains("500/1,000", frames[1]);
        Assert.Contains("eval -312.2", frames[1]);
        Assert.Contains("ETA", frames[1]);
        Assert.Contains("/s", frames[1]);
        Assert.Contains($"[{new string('#', ProgressReporter.BarWidth)}] 100%", frames[2]);
    }

    [Fact]
    public void AShorterFrameOverwritesTheLongerOneBeforeIt()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, "online", 1000, TimeSpan.Zero, redrawInPlace: true);
        progress.Report(10, "a long key metric text");
        progress.Report(20);
        var frames = output.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(frames[1].Length >= frames[0].Length, "the second frame is padded over the first");
        Assert.EndsWith(" ", frames[1]);
    }

    [Fact]
    public void TerminalRedrawsAreRateLimited()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, "online", 1_000_000, redrawInPlace: true);
        Assert.True(progress.RedrawsInPlace);
        for (int i = 1; i < 100_000; i++) progress.Report(i, double.NaN);
        // At most ~10 redraws per second (the loop above takes far less than a few seconds).
        Assert.InRange(output.ToString().Count(c => c == '\r'), 1, 30);
    }

    [Fact]
    public void RedirectedOutputGetsPlainLines()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, "ppo", 200, TimeSpan.Zero, redrawInPlace: false);
        progress.Report(50, 12.5);
        progress.Report(200, 20.0);
        string text = output.ToString();
        Assert.DoesNotContain('\r', text);
        var lines = text.Trim().Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("ppo: 50/200 (25%)", lines[0]);
        Assert.Contains("eval 12.5", lines[0]);
        Assert.StartsWith("ppo: 200/200 (100%)", lines[1]);
    }

    [Fact]
    public void TheDefaultFormFollowsTheWriter()
    {
        Assert.False(new ProgressReporter(new StringWriter(), "x", 10).RedrawsInPlace);
        Assert.True(new ProgressReporter(new TerminalWriter(new StringWriter()), "x", 10).RedrawsInPlace);
    }

    [Fact]
    public void CloseEndsAnOpenBarAndSilencesLaterReports()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, "online", 1000, TimeSpan.Zero, redrawInPlace: true);
        progress.Report(10);
        progress.Close();
        progress.Report(20);
        Assert.EndsWith(Environment.NewLine, output.ToString());
        Assert.Equal(1, output.ToString().Count(c => c == '\r'));
    }
}
