namespace O2RL.Tests;

/// <summary>
/// Bytes a piece of code allocates on the calling thread, robust to garbage collections that other threads cause.
/// </summary>
/// <remarks>
/// GC.GetAllocatedBytesForCurrentThread counts a thread's allocation context as allocated once the thread takes it;
/// when a collection (started by any thread) retires the context, its unused remainder, up to the 8 KB quantum, is
/// counted too. Under load, with tests of other classes allocating in parallel, that showed up as 2–8 KB "allocated"
/// by code that allocates nothing. So the code runs in several windows and the fewest bytes count: a real allocation
/// shows in every window, a retired context only in a window that a collection fell into. The first window with no
/// collection ends the search.
/// </remarks>
static class AllocationMeter
{
    /// <summary>The fewest bytes <paramref name="run"/> allocated on this thread over up to <paramref name="windows"/> runs.</summary>
    public static long BytesAllocated(Action run, int windows = 8)
    {
        long fewest = long.MaxValue;
        for (int window = 0; window < windows; window++)
        {
            int collections = GC.CollectionCount(0);
            long before = GC.GetAllocatedBytesForCurrentThread();
            run();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            fewest = Math.Min(fewest, allocated);
            if (GC.CollectionCount(0) == collections) break;
        }
        return fewest;
    }
}
