using Xunit;

namespace O2RL.Tests.Shared;

/// <summary>
/// Tests that need an optional system library (PoCL for OpenCL, MuJoCo 2.2.2, DejaVu fonts) skip with the reason
/// when it is absent, so the suite runs anywhere. CI (.ci/run) names each library whose packages it installed in
/// <c>O2RL_TESTS_REQUIRE</c> (comma-separated: opencl, mujoco, fonts): there a library that does not load fails the
/// tests instead, so a broken install cannot turn a conformance suite into a row of skips.
/// </summary>
internal static class RequiredTestLibraries
{
    /// <summary>The environment variable listing the libraries that must be present.</summary>
    public const string Variable = "O2RL_TESTS_REQUIRE";

    /// <summary>Whether <paramref name="library"/> is listed in <see cref="Variable"/>.</summary>
    public static bool IsRequired(string library) =>
        (System.Environment.GetEnvironmentVariable(Variable) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Contains(library, StringComparer.OrdinalIgnoreCase);

    /// <summary>Skips the test with <paramref name="reason"/> when <paramref name="absent"/>, or fails it where the library is required.</summary>
    public static void SkipWhenAbsent(string library, bool absent, string reason)
    {
        if (!absent) return;
        if (IsRequired(library)) Assert.Fail($"{reason} ({Variable} requires '{library}': its packages are installed, so it must load)");
        Assert.Skip(reason);
    }
}
