using ScottPlot;

namespace O2RL.Algorithms.Runs;

/// <summary>
/// Renders learning curves to PNG with ScottPlot: one line per method (mean across seeds) with a shaded band of
/// ± one standard deviation, score against environment steps.
/// </summary>
public static class CurvePlot
{
    /// <summary>The font family every text element uses.</summary>
    public const string FontFamily = "DejaVu Sans";

    static readonly string[] FontFolders =
    [
        "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu", "/usr/share/fonts",
        "/usr/local/share/fonts",
    ];
    static readonly Lock RegistrationLock = new();
    static bool registered;

    /// <summary>
    /// Registers DejaVu Sans (regular and bold) from the system font folders and makes it ScottPlot's default.
    /// ScottPlot draws no text at all when it finds no font file (the PNG would silently lack every label), so a
    /// missing font is an error that says what to install. Safe to call repeatedly and from several threads.
    /// </summary>
    public static void EnsureFonts() => RegisterFonts(FontFolders);

    /// <summary>
    /// The regular and bold DejaVu Sans files under <paramref name="folders"/>; throws, naming the folders and the
    /// package to install, when either is missing.
    /// </summary>
    internal static (string Regular, string Bold) LocateFonts(IReadOnlyList<string> folders)
    {
        string? regular = FindFontFile("DejaVuSans.ttf", folders), bold = FindFontFile("DejaVuSans-Bold.ttf", folders);
        if (regular is null || bold is null)
            throw new InvalidOperationException(
                $"cannot draw plot text: DejaVuSans.ttf and DejaVuSans-Bold.ttf were not found under {string.Join(", ", folders)} " +
                "(install the fonts-dejavu-core package)");
        return (regular, bold);
    }

    static void RegisterFonts(IReadOnlyList<string> folders)
    {
        lock (RegistrationLock)
        {
            if (registered) return;
            var (regular, bold) = LocateFonts(folders);
            Fonts.AddFontFile(FontFamily, regular, bold: false, italic: false);
            Fonts.AddFontFile(FontFamily, bold, bold: true, italic: false);
            // ScottPlot's own default resolves to a serif face here; name ours explicitly.
            Fonts.Default = FontFamily;
            registered = true;
        }
    }

    /// <summary>Whether the font files <see cref="EnsureFonts"/> needs are present.</summary>
    public static bool FontsAvailable =>
        FindFontFile("DejaVuSans.ttf", FontFolders) is not null && FindFontFile("DejaVuSans-Bold.ttf", FontFolders) is not null;

    /// <summary>
    /// Draws <paramref name="curves"/> into a <paramref name="width"/> × <paramref name="height"/> PNG at
    /// <paramref name="path"/> (written atomically).
    /// </summary>
    public static void Render(IReadOnlyList<MethodCurve> curves, string path, string title, string yLabel, int width = 900, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(curves);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (curves.Count == 0) throw new ArgumentException("no curves to plot", nameof(curves));
        if (width < 100 || height < 100) throw new ArgumentOutOfRangeException(nameof(width), $"image must be at least 100×100 pixels, got {width}×{height}");
        EnsureFonts();

        var plot = new Plot();
        plot.Font.Set(FontFamily);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Count; i++)
        {
            var curve = curves[i];
            var color = palette.GetColor(i);
            double[] xs = [.. curve.Steps.Select(s => (double)s)];
            if (curve.Seeds > 1)
            {
                var band = plot.Add.FillY(xs, [.. curve.Mean.Zip(curve.Std, (m, s) => m - s)], [.. curve.Mean.Zip(curve.Std, (m, s) => m + s)]);
                band.FillColor = color.WithAlpha(0.2);
                band.LineWidth = 0;
            }
            var line = plot.Add.Scatter(xs, curve.Mean, color);
            line.LineWidth = 2;
            line.MarkerSize = curve.Steps.Length <= 30 ? 5 : 0;
            line.LegendText = $"{curve.Label} (n={curve.Seeds})";
        }
        plot.Title(FitTitle(plot.Axes.Title.Label, title, width - 2 * TitleMargin));
        plot.XLabel("environment steps");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.LowerRight);
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));
    }

    /// <summary>
    /// Pixels kept free on each side of the title: ScottPlot centres it over the data area, which the y axis and its
    /// tick labels push right of the image's centre by up to about 50 pixels.
    /// </summary>
    const int TitleMargin = 70;

    /// <summary>
    /// <paramref name="title"/> broken at spaces into as few lines as keep each within <paramref name="maxWidth"/>
    /// pixels in <paramref name="label"/>'s font: ScottPlot centres a title on one line and clips what overflows the
    /// image, so a long <c>--title</c> would otherwise lose its ends. A single word wider than the image stays whole.
    /// </summary>
    internal static string FitTitle(LabelStyle label, string title, float maxWidth)
    {
        if (MeasureWidth(label, title) <= maxWidth) return title;
        var lines = new List<string>();
        string line = "";
        foreach (var word in title.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string longer = line.Length == 0 ? word : line + " " + word;
            if (line.Length > 0 && MeasureWidth(label, longer) > maxWidth)
            {
                lines.Add(line);
                line = word;
            }
            else line = longer;
        }
        lines.Add(line);
        return string.Join("\n", lines);
    }

    /// <summary>The width in pixels <paramref name="text"/> takes in <paramref name="label"/>'s font.</summary>
    internal static float MeasureWidth(LabelStyle label, string text)
    {
        string saved = label.Text;
        label.Text = text;
        using var paint = Paint.NewDisposablePaint();
        float width = label.Measure(paint).Width;
        label.Text = saved;
        return width;
    }

    static string? FindFontFile(string fileName, IReadOnlyList<string> folders)
    {
        foreach (var folder in folders)
        {
            string direct = Path.Combine(folder, fileName);
            if (File.Exists(direct)) return direct;
        }
        // Distributions file DejaVu under different subfolders; search below each existing folder as a last resort.
        foreach (var folder in folders.Where(Directory.Exists))
        {
            try
            {
                if (Directory.EnumerateFiles(folder, fileName, SearchOption.AllDirectories).FirstOrDefault() is string found) return found;
            }
            catch (UnauthorizedAccessException) { }
            catch (IOException) { }
        }
        return null;
    }
}
