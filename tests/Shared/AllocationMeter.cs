namespace O2RL.Tests;

/// <summary>
/// Bytes a piece of code allocates on the calling thread, robust to garbage collections that other threads cause.
/// </summary>
/// <remarks>
/// GC.GetAllocatedBytesForCurrentThread counts a thread's allocation context as allocated once the thread takes it;
/// when a collection (started by any thread) retires the context, its unused remainder, up to the 8 KB quantum, is
/// counted too. Under load, with tests of other classes allocating in parallel, that showed up as 2–8 KB "allocated"
/// by code that allocates nothing. So each window first asks the runtime for a no-GC region (no collection may start
/// inside it unless all threads together allocate more than its budget), and the code runs in several windows with
/// the fewest bytes counting: a real allocation shows in every window, a retired context only in a window that a
/// collection fell into. The first window with no collection ends the search.
/// </remarks>
static class AllocationMeter
{
    /// <summary>Bytes all threads may allocate in a window before a collection may start anyway.</summary>
    const long NoCollectionBudget = 64L << 20;

    /// <summary>The fewest bytes <paramref name="run"/> allocated on this thread over up to <paramref name="windows"/> runs.</summary>
    public static long BytesAllocated(Action run, int windows = 8)
    {
        long fewest = long.MaxValue;
        for (int window = 0; window < windows; window++)
        {
            bool noCollections = TryStartNoCollections();
            int collections = GC.CollectionCount(0);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                run();
            }
            finally
            {
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                fewest = Math.Min(fewest, allocated);
                if (noCollections) EndNoCollections();
            }
            if (GC.CollectionCount(0) == collections) break;
        }
        return fewest;
    }

    static bool TryStartNoCollections()
    {
        try
        {
            return GC.TryStartNoGCRegion(NoCollectionBudget);
        }
        catch (InvalidOperationException)
        {
            return false; // already in a no-GC region (another meter on another thread)
        }
        catch (ArgumentOutOfRangeException)
        {
            return false; // budget above what this GC configuration allows
        }
    }

    static void EndNoCollections()
    {
        if (System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion) return;
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // The budget ran out or a collection was induced; the window's collection count says so.
        }
    }
}
