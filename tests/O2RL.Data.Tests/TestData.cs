using O2RL.Data;
using Xunit;

[assembly: AssemblyFixture(typeof(O2RL.Data.Tests.TempDirectory))]

namespace O2RL.Data.Tests;

/// <summary>Small hand-built datasets shared by the tests.</summary>
static class TestData
{
    /// <summary>
    /// A dataset with obsDim 2, actDim 1 whose observation of row i is (i, 10 i), action i/100, reward i;
    /// flags set on the given rows.
    /// </summary>
    public static TransitionDataset Build(int rows, int[]? terminalRows = null, int[]? timeoutRows = null, bool withTimeouts = true,
        bool withNext = true, DatasetMetadata? metadata = null)
    {
        var obs = new float[rows * 2];
        var next = new float[rows * 2];
        var act = new float[rows];
        var rew = new float[rows];
        for (int i = 0; i < rows; i++)
        {
            obs[2 * i] = i; obs[2 * i + 1] = 10 * i;
            next[2 * i] = i + 0.5f; next[2 * i + 1] = 10 * i + 5;
            act[i] = i / 100f;
            rew[i] = i;
        }
        var term = new bool[rows];
        foreach (int r in terminalRows ?? []) term[r] = true;
        bool[]? timeouts = null;
        if (withTimeouts)
        {
            timeouts = new bool[rows];
            foreach (int r in timeoutRows ?? []) timeouts[r] = true;
        }
        return new TransitionDataset(2, 1, obs, act, rew, term, timeouts, withNext ? next : null, metadata);
    }

    /// <summary>A fresh path in this test run's temporary directory (deleted when the run ends).</summary>
    public static string TempFile(string name)
    {
        string dir = Path.Combine(TempDirectory.Root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }
}

/// <summary>One temporary directory per test run, removed when the assembly's tests finish.</summary>
public sealed class TempDirectory : IDisposable
{
    public static string Root { get; } = Path.Combine(Path.GetTempPath(), "o2rl-data-tests-" + Environment.ProcessId);

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
