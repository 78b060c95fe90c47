using O2RL.Engine;

namespace O2RL.Engine.Tests.Backends;

/// <summary>Every op of the managed SIMD backend against the plain C# references, single- and multi-threaded.</summary>
public sealed class CpuConformanceTests : BackendConformanceTests
{
    protected override Backend CreateBackend() => new CpuBackend();
}

/// <summary>The same with one thread (the GEMM takes its single-threaded path for every shape).</summary>
public sealed class CpuSingleThreadConformanceTests : BackendConformanceTests
{
    protected override Backend CreateBackend() => new CpuBackend(1);
}
