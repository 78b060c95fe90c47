using System.Runtime.ExceptionServices;

namespace O2RL.Kernels.Tests.Threading;

/// <summary>
/// Runs a test body on a thread of its own and rethrows what it threw. The float mode (<see cref="DenormalFlush"/>)
/// stays with a thread, and the test runner reuses its threads, so a test that sets the mode or depends on it runs here.
/// </summary>
static class FreshThread
{
    public static void Run(Action body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { body(); } catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) ExceptionDispatchInfo.Capture(failure).Throw();
    }
}
