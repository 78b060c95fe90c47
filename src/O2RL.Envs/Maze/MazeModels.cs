using System.Globalization;
using System.Text;
using System.Xml.Linq;
using O2RL.Envs.MuJoCo;

namespace O2RL.Envs.Maze;

/// <summary>Builds the MJCF text of the maze tasks from their layouts.</summary>
public static class MazeModels
{
    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// The Maze2D point-mass model: a sphere on two slide joints in a zero-gravity plane, one 1×1 box per wall cell,
    /// cell (r, c) centred at world (r + 1, c + 1) and the particle's body at (1.2, 1.2).
    /// </summary>
    public static string PointMazeXml(MazeLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var xml = new StringBuilder();
        xml.AppendLine($"<!-- Maze2D point mass, layout '{layout.Name}' ({layout.Rows}x{layout.Columns}). -->");
        xml.AppendLine("<mujoco model=\"point_maze\">");
        xml.AppendLine("  <compiler angle=\"radian\" coordinate=\"local\" inertiafromgeom=\"true\"/>");
        xml.AppendLine("  <option timestep=\"0.01\" gravity=\"0 0 0\" iterations=\"20\" integrator=\"Euler\"/>");
        xml.AppendLine("  <default>");
        xml.AppendLine("    <joint damping=\"1\" limited=\"false\"/>");
        xml.AppendLine("    <geom friction=\"0.5 0.1 0.1\" density=\"1000\" margin=\"0.002\" condim=\"1\" contype=\"2\" conaffinity=\"1\"/>");
        xml.AppendLine("  </default>");
        xml.AppendLine("  <worldbody>");
        xml.AppendLine("    <geom name=\"ground\" type=\"plane\" size=\"40 40 0.25\" pos=\"0 0 -0.1\" contype=\"1\" conaffinity=\"0\"/>");
        for (int r = 0; r < layout.Rows; r++)
            for (int c = 0; c < layout.Columns; c++)
                if (layout.IsWall(r, c))
                    xml.AppendLine($"    <geom name=\"wall_{r}_{c}\" type=\"box\" pos=\"{r + 1} {c + 1} 0\" size=\"0.5 0.5 0.2\" conaffinity=\"1\"/>");
        xml.AppendLine("    <body name=\"particle\" pos=\"1.2 1.2 0\">");
        xml.AppendLine("      <geom name=\"particle_geom\" type=\"sphere\" size=\"0.1\" contype=\"1\"/>");
        xml.AppendLine("      <joint name=\"ball_x\" type=\"slide\" pos=\"0 0 0\" axis=\"1 0 0\"/>");
        xml.AppendLine("      <joint name=\"ball_y\" type=\"slide\" pos=\"0 0 0\" axis=\"0 1 0\"/>");
        xml.AppendLine("    </body>");
        xml.AppendLine("  </worldbody>");
        xml.AppendLine("  <actuator>");
        xml.AppendLine("    <motor joint=\"ball_x\" ctrllimited=\"true\" ctrlrange=\"-1 1\" gear=\"100\"/>");
        xml.AppendLine("    <motor joint=\"ball_y\" ctrllimited=\"true\" ctrlrange=\"-1 1\" gear=\"100\"/>");
        xml.AppendLine("  </actuator>");
        xml.AppendLine("</mujoco>");
        return xml.ToString();
    }

    /// <summary>Cell size of the AntMaze grid (D4RL's maze_size_scaling).</summary>
    public const double AntCellSize = 4.0;

    /// <summary>
    /// The AntMaze model: the Gym Ant with the AntMaze changes (timestep 0.02, contact solref/solimp, gear-1 motors
    /// with ctrlrange ±30) plus one 4×4×2 m box per wall cell, the start cell at the origin.
    /// </summary>
    public static string AntMazeXml(MazeLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var start = layout.Single('S');
        var document = XDocument.Parse(MuJoCoModels.GetXml("ant"));
        var root = document.Root!;
        root.SetAttributeValue("model", $"antmaze_{layout.Name}");
        root.Element("option")!.SetAttributeValue("timestep", "0.02");
        var geomDefault = root.Element("default")!.Element("geom")!;
        geomDefault.SetAttributeValue("solref", "0.02 1");
        geomDefault.SetAttributeValue("solimp", "0.8 0.8 0.01");
        foreach (var motor in root.Element("actuator")!.Elements("motor"))
        {
            motor.SetAttributeValue("gear", "1");
            motor.SetAttributeValue("ctrlrange", "-30 30");
        }
        var worldbody = root.Element("worldbody")!;
        for (int r = 0; r < layout.Rows; r++)
        {
            for (int c = 0; c < layout.Columns; c++)
            {
                if (!layout.IsWall(r, c)) continue;
                double x = AntCellSize * (c - start.Column), y = AntCellSize * (r - start.Row);
                worldbody.Add(new XElement("geom",
                    new XAttribute("name", $"block_{r}_{c}"),
                    new XAttribute("type", "box"),
                    new XAttribute("pos", $"{F(x)} {F(y)} {F(AntCellSize / 4)}"),
                    new XAttribute("size", $"{F(AntCellSize / 2)} {F(AntCellSize / 2)} {F(AntCellSize / 4)}"),
                    new XAttribute("contype", "1"),
                    new XAttribute("conaffinity", "1")));
            }
        }
        root.AddFirst(new XComment($" AntMaze '{layout.Name}' ({layout.Rows}x{layout.Columns} cells of {F(AntCellSize)} m), built from the Ant model. "));
        return document.ToString();
    }
}
