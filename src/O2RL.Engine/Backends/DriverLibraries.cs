using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace O2RL.Engine;

/// <summary>
/// Finds the GPU driver libraries under their versioned names. ILGPU imports the CUDA driver as <c>cuda</c> and the
/// OpenCL loader as <c>OpenCL</c>, which .NET looks for as <c>libcuda.so</c> and <c>libOpenCL.so</c>: names that only
/// the development packages (or a driver installer's extra links) provide. A machine with just the driver has
/// <c>libcuda.so.1</c> (the name the driver's ABI is versioned by) and, with ocl-icd, <c>libOpenCL.so.1</c>. When the
/// plain name is missing, .NET asks this resolver, which loads the versioned one, so a GPU is found on such a
/// machine too.
/// </summary>
static class DriverLibraries
{
    static int registered;

    /// <summary>The versioned library to try for an import name that default probing did not find, or null.</summary>
    internal static string? VersionedName(string importName) => importName switch
    {
        "cuda" or "libcuda" or "libcuda.so" => "libcuda.so.1",
        "OpenCL" or "libOpenCL" or "libOpenCL.so" => "libOpenCL.so.1",
        _ => null,
    };

    /// <summary>Installs the fallback once per process (Linux only; other systems name the libraries as ILGPU does).</summary>
    public static void Register()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref registered, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    static IntPtr Resolve(Assembly assembly, string importName) =>
        VersionedName(importName) is string versioned && NativeLibrary.TryLoad(versioned, out var handle) ? handle : IntPtr.Zero;
}
