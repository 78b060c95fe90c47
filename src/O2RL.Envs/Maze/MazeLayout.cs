namespace O2RL.Envs.Maze;

/// <summary>
/// A grid maze: '#' wall, '.' free, 'S' start, 'G' goal; row 0 is the first line, rows grow downward and columns
/// to the right (D4RL's layouts).
/// </summary>
public sealed class MazeLayout
{
    private readonly string[] rows;

    /// <summary>Parses a layout given as lines of equal length.</summary>
    public MazeLayout(string name, params string[] lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Length == 0) throw new ArgumentException("a maze needs at least one row");
        int width = lines[0].Length;
        for (int r = 0; r < lines.Length; r++)
        {
            if (lines[r].Length != width)
                throw new ArgumentException($"maze '{name}' row {r} has {lines[r].Length} cells but row 0 has {width}");
            foreach (char c in lines[r])
                if (c is not ('#' or '.' or 'S' or 'G'))
                    throw new ArgumentException($"maze '{name}' row {r} has the unknown cell '{c}'");
        }
        Name = name;
        rows = lines.ToArray();
    }

    /// <summary>Layout name (e.g. "umaze").</summary>
    public string Name { get; }

    /// <summary>Number of rows.</summary>
    public int Rows => rows.Length;

    /// <summary>Number of columns.</summary>
    public int Columns => rows[0].Length;

    /// <summary>The cell character at (row, column).</summary>
    public char this[int row, int column] => rows[row][column];

    /// <summary>True when (row, column) is a wall.</summary>
    public bool IsWall(int row, int column) => rows[row][column] == '#';

    /// <summary>All cells holding <paramref name="cell"/>, row by row.</summary>
    public IReadOnlyList<(int Row, int Column)> CellsOf(char cell)
    {
        var result = new List<(int, int)>();
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                if (rows[r][c] == cell) result.Add((r, c));
        return result;
    }

    /// <summary>Every non-wall cell, row by row.</summary>
    public IReadOnlyList<(int Row, int Column)> OpenCells()
    {
        var result = new List<(int, int)>();
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                if (rows[r][c] != '#') result.Add((r, c));
        return result;
    }

    /// <summary>The single cell holding <paramref name="cell"/>; throws when there is not exactly one.</summary>
    public (int Row, int Column) Single(char cell)
    {
        var cells = CellsOf(cell);
        if (cells.Count != 1)
            throw new InvalidOperationException($"maze '{Name}' has {cells.Count} '{cell}' cells, expected one");
        return cells[0];
    }

    /// <inheritdoc />
    public override string ToString() => string.Join('\n', rows);

    /// <summary>AntMaze evaluation layout, 5×5.</summary>
    public static MazeLayout AntUMaze { get; } = new("umaze",
        "#####",
        "#S..#",
        "###.#",
        "#G..#",
        "#####");

    /// <summary>AntMaze evaluation layout, 8×8.</summary>
    public static MazeLayout AntMedium { get; } = new("medium",
        "########",
        "#S.##..#",
        "#..#...#",
        "##...###",
        "#..#...#",
        "#.#..#.#",
        "#...#.G#",
        "########");

    /// <summary>AntMaze evaluation layout, 9×12.</summary>
    public static MazeLayout AntLarge { get; } = new("large",
        "############",
        "#S...#.....#",
        "#.##.#.#.#.#",
        "#......#...#",
        "#.####.###.#",
        "#..#.#.....#",
        "##.#.#.#.###",
        "#..#...#.G.#",
        "############");

    /// <summary>Maze2D layout, 5×5 (the goal is the AntMaze start cell).</summary>
    public static MazeLayout PointUMaze { get; } = new("umaze",
        "#####",
        "#G..#",
        "###.#",
        "#...#",
        "#####");

    /// <summary>Maze2D layout, 8×8.</summary>
    public static MazeLayout PointMedium { get; } = new("medium",
        "########",
        "#..##..#",
        "#..#...#",
        "##...###",
        "#..#...#",
        "#.#..#.#",
        "#...#.G#",
        "########");

    /// <summary>Maze2D layout, 9×12.</summary>
    public static MazeLayout PointLarge { get; } = new("large",
        "############",
        "#....#.....#",
        "#.##.#.#.#.#",
        "#......#...#",
        "#.####.###.#",
        "#..#.#.....#",
        "##.#.#.#.###",
        "#..#...#.G.#",
        "############");
}
