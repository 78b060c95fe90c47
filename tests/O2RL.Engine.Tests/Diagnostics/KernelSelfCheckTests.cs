using O2RL.Engine.Diagnostics;
using Xunit;

namespace O2RL.Engine.Tests.Diagnostics;

public sealed class KernelSelfCheckTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void EveryKernelOfABackendMatchesItsReference(string device)
    {
        // What `o2rl doctor` reports: each op by a name of its own, each within its tolerance, the fused ops included.
        using var backend = Devices.Create(device);
        var results = KernelSelfCheck.Run(backend);
        Assert.Equal(results.Count, results.Select(r => r.Op).Distinct().Count());
        Assert.All(results, r => Assert.True(r.Passed, $"{device}: {r.Op} off by {r.MaxAbsError:G3}, tolerance {r.Tolerance:G3}"));
        Assert.Contains(results, r => r.Op == "layer gradients");
        Assert.Contains(results, r => r.Op == "adam then polyak");
        Assert.Contains(results, r => r.Op == "tanh-Gaussian draw");
        Assert.Contains(results, r => r.Op == "noisy action");
    }

    [Fact]
    public void AMismatchIsReportedNotThrown()
    {
        var result = new KernelCheckResult("op", MaxAbsError: 2e-4, Tolerance: 1e-4);
        Assert.False(result.Passed);
        Assert.True(result with { MaxAbsError = 1e-4 } is { Passed: true });
    }
}
