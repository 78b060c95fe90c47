using Xunit;
using System.Buffers.Binary;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Tests.Runs;

public class LearningCurveTests
{
    const string Normalized = LearningCurves.NormalizedReturn;

    [Fact]
    public void Aggregate_InterpolatesOntoTheCommonStepsAndAveragesAcrossSeeds()
    {
        using var temp = new TemporaryFolder();
        temp.CreateRun("a0", "o2sac", "Hopper-v2", "hopper-medium-v2", 0, Normalized, [(0, 0), (100, 10), (200, 20)]);
        temp.CreateRun("a1", "o2sac", "Hopper-v2", "hopper-medium-v2", 1, Normalized, [(0, 2), (50, 7), (150, 17), (250, 27)]);
        var (metric, curves) = LearningCurves.Load(LearningCurves.FindRuns([temp.Path]));
        Assert.Equal(Normalized, metric);
        var curve = Assert.Single(LearningCurves.Aggregate(curves));
        Assert.Equal("o2sac", curve.Label);
        Assert.Equal(2, curve.Seeds);
        // Grid: every step of either run inside [0, 200] (the range both cover); each run interpolated linearly.
        Assert.Equal([0L, 50, 100, 150, 200], curve.Steps);
        Assert.Equal([1.0, 6, 11, 16, 21], curve.Mean.Select(m => Math.Round(m, 12)));
        // Values differ by 2 at every step: sample std = sqrt(2).
        Assert.All(curve.Std, s => Assert.Equal(Math.Sqrt(2), s, 12));
    }

    [Fact]
    public void Load_FallsBackToRawReturn_OnlyWhenNoRunHasNormalizedScores()
    {
        using var temp = new TemporaryFolder();
        temp.CreateRun("p", "sac", "Pendulum-v1", null, 0, LearningCurves.RawReturn, [(0, -1200), (1000, -300)]);
        var runs = LearningCurves.FindRuns([temp.Path]);
        Assert.Equal(LearningCurves.RawReturn, LearningCurves.Load(runs).Metric);
        temp.CreateRun("h", "sac", "Hopper-v2", "hopper-medium-v2", 0, Normalized, [(0, 10)]);
        var (metric, curves) = LearningCurves.Load(LearningCurves.FindRuns([temp.Path]));
        Assert.Equal(Normalized, metric);
        Assert.Equal("hopper-medium-v2", Assert.Single(curves).Info.Task);
    }

    [Fact]
    public void FindRuns_AcceptsRunFoldersParentsAndWildcards_AndNamesWhatMatchedNothing()
    {
        using var temp = new TemporaryFolder();
        temp.CreateRun(Path.Combine("sweep", "o2sac-s0"), "o2sac", "Hopper-v2", null, 0, Normalized, [(0, 1)]);
        temp.CreateRun(Path.Combine("sweep", "o2sac-s1"), "o2sac", "Hopper-v2", null, 1, Normalized, [(0, 1)]);
        temp.CreateRun(Path.Combine("sweep", "naive-s0"), "sac", "Hopper-v2", null, 0, Normalized, [(0, 1)]);
        Assert.Equal(3, LearningCurves.FindRuns([temp.Path]).Count);
        Assert.Equal(2, LearningCurves.FindRuns([temp.Combine("sweep", "o2sac-*")]).Count);
        Assert.Single(LearningCurves.FindRuns([temp.Combine("sweep", "naive-s0"), temp.Combine("sweep", "naive-s0")]));
        var ex = Assert.Throws<ArgumentException>(() => LearningCurves.FindRuns([temp.Combine("sweep", "cql-*")]));
        Assert.Contains("cql-*", ex.Message);
    }

    [Fact]
    public void Render_WritesAPngOfTheRequestedSize()
    {
        O2RL.Tests.Shared.RequiredTestLibraries.SkipWhenAbsent("fonts", !CurvePlot.FontsAvailable, "DejaVu Sans fonts are not installed (package fonts-dejavu-core)");
        using var temp = new TemporaryFolder();
        for (int seed = 0; seed < 3; seed++)
        {
            temp.CreateRun($"o2sac-{seed}", "o2sac", "Hopper-v2", "hopper-medium-v2", seed, Normalized,
                [.. Enumerable.Range(0, 21).Select(i => ((long)i * 5000, 50 + 2.0 * i + 3 * seed + 4 * Math.Sin(i + seed)))]);
            temp.CreateRun($"naive-{seed}", "sac", "Hopper-v2", "hopper-medium-v2", seed, Normalized,
                [.. Enumerable.Range(0, 21).Select(i => ((long)i * 5000, 50 - 20 * Math.Exp(-i / 3.0) + 1.5 * i + 5 * seed))]);
        }
        var (metric, curves) = LearningCurves.Load(LearningCurves.FindRuns([temp.Path]));
        string png = temp.Combine("out", "curves.png");
        CurvePlot.Render(LearningCurves.Aggregate(curves), png, "hopper-medium-v2", metric, 640, 400);

        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 10_000, $"PNG has only {bytes.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(640, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(400, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    [Fact]
    public void FitTitle_BreaksALongTitleIntoLinesThatFitAndKeepsAShortOneWhole()
    {
        O2RL.Tests.Shared.RequiredTestLibraries.SkipWhenAbsent("fonts", !CurvePlot.FontsAvailable, "DejaVu Sans fonts are not installed (package fonts-dejavu-core)");
        CurvePlot.EnsureFonts();
        var plot = new ScottPlot.Plot();
        plot.Font.Set(CurvePlot.FontFamily);
        var label = plot.Axes.Title.Label;
        const float maxWidth = 760;
        Assert.Equal("hopper-medium-v2", CurvePlot.FitTitle(label, "hopper-medium-v2", maxWidth));

        const string title = "HalfCheetah-v2 (our medium set, made again): TD3+BC→O2TD3, naive TD3 with the critics loaded, " +
                             "TD3 from scratch, three seeds each, evaluations every 1,000 steps";
        Assert.True(CurvePlot.MeasureWidth(label, title) > maxWidth, "the test title must be too wide for one line");
        var lines = CurvePlot.FitTitle(label, title, maxWidth).Split('\n');
        Assert.InRange(lines.Length, 2, 3);
        Assert.All(lines, line => Assert.InRange(CurvePlot.MeasureWidth(label, line), 1, maxWidth));
        Assert.Equal(title, string.Join(" ", lines));
        // Greedy: no line could have taken the next line's first word.
        for (int i = 0; i + 1 < lines.Length; i++)
            Assert.True(CurvePlot.MeasureWidth(label, lines[i] + " " + lines[i + 1].Split(' ')[0]) > maxWidth);
    }

    [Fact]
    public void Render_RejectsAnEmptyPlot()
    {
        using var temp = new TemporaryFolder();
        Assert.Throws<ArgumentException>(() => CurvePlot.Render([], temp.Combine("x.png"), "t", "y"));
    }
}

public class CurvePlotFontTests
{
    [Fact]
    public void MissingFonts_FailWithAClearMessage()
    {
        using var temp = new TemporaryFolder();
        File.WriteAllText(temp.Combine("DejaVuSans.ttf"), "regular only, no bold");
        var ex = Assert.Throws<InvalidOperationException>(() => CurvePlot.LocateFonts([temp.Path]));
        Assert.Contains("DejaVuSans-Bold.ttf", ex.Message);
        Assert.Contains("fonts-dejavu-core", ex.Message);
        Assert.Contains(temp.Path, ex.Message);
    }

    [Fact]
    public void Fonts_AreFoundInSubfolders()
    {
        using var temp = new TemporaryFolder();
        Directory.CreateDirectory(temp.Combine("truetype", "dejavu"));
        File.WriteAllText(temp.Combine("truetype", "dejavu", "DejaVuSans.ttf"), "");
        File.WriteAllText(temp.Combine("truetype", "dejavu", "DejaVuSans-Bold.ttf"), "");
        var (regular, bold) = CurvePlot.LocateFonts([temp.Combine("missing"), temp.Path]);
        Assert.Equal(temp.Combine("truetype", "dejavu", "DejaVuSans.ttf"), regular);
        Assert.Equal(temp.Combine("truetype", "dejavu", "DejaVuSans-Bold.ttf"), bold);
    }
}
