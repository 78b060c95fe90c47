using System.Text.RegularExpressions;
using Xunit;
using O2RL.Engine;

namespace O2RL.Engine.Tests;

public sealed class BuildInfoTests
{
    [Fact]
    public void VersionNamesTheCommitWhenBuiltFromAGitCheckout()
    {
        string version = BuildInfo.Version;
        Assert.StartsWith("0.1.0", version);
        // Built from this repository's checkout (as the tests are), the SDK appends "+<40-hex commit>".
        string root = AppContext.BaseDirectory;
        while (root.Length > 0 && !Directory.Exists(Path.Combine(root, ".git")) && !File.Exists(Path.Combine(root, ".git")))
            root = Path.GetDirectoryName(root) ?? "";
        if (root.Length > 0) Assert.Matches(new Regex(@"^0\.1\.0\+[0-9a-f]{40}$"), version);
    }
}
