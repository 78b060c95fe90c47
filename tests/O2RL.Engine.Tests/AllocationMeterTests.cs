using O2RL.Tests;
using Xunit;

namespace O2RL.Engine.Tests;

/// <summary>The allocation meter the zero-allocation tests rely on still sees a real allocation.</summary>
public sealed class AllocationMeterTests
{
    static object? sink;

    [Fact]
    public void SeesEveryAllocationAndNothingElse()
    {
        Assert.True(AllocationMeter.BytesAllocated(() => sink = new byte[1000]) >= 1000);
        Assert.True(AllocationMeter.BytesAllocated(() => { for (int i = 0; i < 100; i++) sink = new float[4]; }) >= 100 * 16);
        int value = 0;
        Assert.Equal(0, AllocationMeter.BytesAllocated(() => value++));
        Assert.InRange(value, 1, 8); // one window, or more where a collection fell into one
    }
}
