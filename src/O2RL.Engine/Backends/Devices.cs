using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace O2RL.Engine;

/// <summary>Options for <see cref="Devices.Create"/>.</summary>
public sealed record DeviceOptions
{
    /// <summary>
    /// Lets ILGPU use an OpenCL device that reports no generic address space (PoCL 3.x on a CPU, for one). ILGPU
    /// refuses such devices; with this option the device's <c>GenericAddressSpace</c> capability is forced to true
    /// before its accelerator is created. The kernels of this engine only touch global and shared memory through
    /// typed views, so they run correctly there (checked on PoCL), but ILGPU itself makes no promise. Also enabled
    /// by the environment variable <c>O2RL_OPENCL_FORCE_GENERIC=1</c>. Off by default.
    /// </summary>
    public bool AllowOpenClWithoutGenericAddressSpace { get; init; }

    /// <summary>Threads of the managed CPU backend (<c>null</c>: its default).</summary>
    public int? CpuThreads { get; init; }
}

/// <summary>One compute device this machine offers.</summary>
/// <param name="Choice">The name to pass to <see cref="Devices.Create"/>: cpu, ilgpu-cpu, cuda or opencl.</param>
/// <param name="Kind">Device family.</param>
/// <param name="Description">The device's own name.</param>
/// <param name="Note">Why the device needs an option to be used, or <c>null</c> when it is ready.</param>
public sealed record DeviceInfo(string Choice, DeviceKind Kind, string Description, string? Note)
{
    /// <inheritdoc/>
    public override string ToString() => Note is null ? $"{Choice}: {Description}" : $"{Choice}: {Description} ({Note})";
}

/// <summary>
/// Device selection: <c>auto | cpu | cuda | opencl | ilgpu-cpu</c> from an option string or, when none is given,
/// from the environment variable <c>O2RL_DEVICE</c>. <c>auto</c> (the default) picks CUDA when a CUDA device is
/// present, else the managed CPU backend.
/// </summary>
public static class Devices
{
    /// <summary>Environment variable holding the device choice when no option is given.</summary>
    public const string DeviceVariable = "O2RL_DEVICE";

    /// <summary>Environment variable that, set to 1 (or true), enables <see cref="DeviceOptions.AllowOpenClWithoutGenericAddressSpace"/>.</summary>
    public const string OpenClForceGenericVariable = "O2RL_OPENCL_FORCE_GENERIC";

    /// <summary>The accepted device names.</summary>
    public static IReadOnlyList<string> Choices { get; } = ["auto", "cpu", "cuda", "opencl", "ilgpu-cpu"];

    /// <summary>
    /// Creates the backend for a device choice (see <see cref="Choices"/>; case-insensitive). A null or empty
    /// <paramref name="device"/> reads <c>O2RL_DEVICE</c>, then falls back to <c>auto</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Choices"/>.</exception>
    /// <exception cref="InvalidOperationException">The device is absent (the message lists the devices present), or
    /// an OpenCL device needs <see cref="DeviceOptions.AllowOpenClWithoutGenericAddressSpace"/>.</exception>
    public static Backend Create(string? device = null, DeviceOptions? options = null)
    {
        DriverLibraries.Register();
        options ??= new DeviceOptions();
        string choice = ResolveChoice(device, Environment.GetEnvironmentVariable);
        bool forceGeneric = AllowsOpenClWithoutGenericAddressSpace(options, Environment.GetEnvironmentVariable);
        switch (choice)
        {
            case "cpu":
                return CreateCpu(options);
            case "auto":
                return TryCreateIlgpu(DeviceKind.Cuda, forceGeneric) ?? CreateCpu(options);
            case "ilgpu-cpu":
                return TryCreateIlgpu(DeviceKind.IlgpuCpu, forceGeneric)!;
            case "cuda":
                return TryCreateIlgpu(DeviceKind.Cuda, forceGeneric) ?? throw Absent("cuda", "no CUDA device found (looked for the driver as libcuda.so and libcuda.so.1)");
            default: // opencl
                return TryCreateIlgpu(DeviceKind.OpenCL, forceGeneric) ?? throw OpenClAbsent(forceGeneric);
        }
    }

    /// <summary>Lists the devices present, the managed CPU first.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        DriverLibraries.Register();
        var found = new List<DeviceInfo>
        {
            new("cpu", DeviceKind.Cpu, $"managed SIMD on {Environment.ProcessorCount} logical processors", null),
            new("ilgpu-cpu", DeviceKind.IlgpuCpu, "ILGPU CPU accelerator (SIMT simulator, slow; for testing the GPU kernels)", null),
        };
        using var context = Context.Create(builder => builder.Cuda().OpenCL(_ => true));
        foreach (var cuda in context.GetCudaDevices())
            found.Add(new("cuda", DeviceKind.Cuda, cuda.Name, null));
        foreach (var cl in context.GetCLDevices())
        {
            string? note = cl.Capabilities.GenericAddressSpace ? null
                : $"no generic address space; usable with DeviceOptions.AllowOpenClWithoutGenericAddressSpace or {OpenClForceGenericVariable}=1";
            found.Add(new("opencl", DeviceKind.OpenCL, cl.Name, note));
        }
        return found;
    }

    /// <summary>Normalises a device choice: the argument if given, else the environment variable, else "auto".</summary>
    internal static string ResolveChoice(string? device, Func<string, string?> environment)
    {
        string? raw = string.IsNullOrWhiteSpace(device) ? environment(DeviceVariable) : device;
        if (string.IsNullOrWhiteSpace(raw)) return "auto";
        string choice = raw.Trim().ToLowerInvariant();
        if (!Choices.Contains(choice))
        {
            string source = string.IsNullOrWhiteSpace(device) ? $" (from {DeviceVariable})" : "";
            throw new ArgumentException($"unknown device '{raw}'{source}; choose one of {string.Join(", ", Choices)}", nameof(device));
        }
        return choice;
    }

    /// <summary>True when the option or <c>O2RL_OPENCL_FORCE_GENERIC</c> (1 or true) allows OpenCL devices without generic address space.</summary>
    internal static bool AllowsOpenClWithoutGenericAddressSpace(DeviceOptions options, Func<string, string?> environment)
    {
        if (options.AllowOpenClWithoutGenericAddressSpace) return true;
        string? value = environment(OpenClForceGenericVariable)?.Trim();
        return value == "1" || string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);
    }

    static Backend CreateCpu(DeviceOptions options) =>
        options.CpuThreads is int threads ? new CpuBackend(threads) : new CpuBackend();

    /// <summary>
    /// Creates an ILGPU backend for the first device of a kind, or returns null when there is none. An OpenCL
    /// device without generic address space counts only when <paramref name="forceGeneric"/> is set.
    /// </summary>
    static IlgpuBackend? TryCreateIlgpu(DeviceKind kind, bool forceGeneric)
    {
        var context = kind switch
        {
            DeviceKind.Cuda => Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2)),
            DeviceKind.OpenCL => Context.Create(builder => builder.OpenCL(_ => true).EnableAlgorithms().Optimize(OptimizationLevel.O2)),
            _ => Context.Create(builder => builder.CPU(CPUDevice.Default).EnableAlgorithms().Optimize(OptimizationLevel.O2)),
        };
        try
        {
            Device? device = null;
            if (kind == DeviceKind.Cuda)
                foreach (var cuda in context.GetCudaDevices()) { device = cuda; break; }
            else if (kind == DeviceKind.OpenCL)
            {
                // Prefer a device ILGPU supports as it is; fall back to one without generic address space only when allowed.
                foreach (var candidate in context.GetCLDevices())
                    if (candidate.Capabilities.GenericAddressSpace) { device = candidate; break; }
                if (device is null && forceGeneric)
                    foreach (var candidate in context.GetCLDevices()) { device = candidate; break; }
            }
            else
                foreach (var cpu in context.GetCPUDevices()) { device = cpu; break; }
            if (device is null)
            {
                context.Dispose();
                return null;
            }
            if (device is CLDevice cl && !cl.Capabilities.GenericAddressSpace) ForceGenericAddressSpace(cl);
            return new IlgpuBackend(context, device, kind);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Marks an OpenCL device as supporting the generic address space. ILGPU 1.5.3 exposes no public setter for this
    /// capability, so the property's own (non-public) setter is used; only ever called behind the explicit option.
    /// </summary>
    static void ForceGenericAddressSpace(CLDevice device)
    {
        var setter = typeof(CLCapabilityContext).GetProperty(nameof(CLCapabilityContext.GenericAddressSpace))?.GetSetMethod(nonPublic: true)
            ?? throw new InvalidOperationException(
                $"this ILGPU version offers no way to enable the generic address space of OpenCL device '{device.Name}'");
        setter.Invoke(device.Capabilities, [true]);
    }

    static InvalidOperationException OpenClAbsent(bool forceGeneric)
    {
        var present = List();
        var refused = present.FirstOrDefault(d => d.Kind == DeviceKind.OpenCL && d.Note is not null);
        if (refused is not null && !forceGeneric)
            return new InvalidOperationException(
                $"OpenCL device '{refused.Description}' reports no generic address space, which ILGPU requires; to use it anyway, " +
                $"set DeviceOptions.AllowOpenClWithoutGenericAddressSpace = true or the environment variable {OpenClForceGenericVariable}=1. " +
                $"Devices present: {Describe(present)}");
        return Absent("opencl", "no OpenCL device found (looked for libOpenCL.so and libOpenCL.so.1, from ocl-icd-libopencl1 on Debian, and an ICD such as pocl-opencl-icd)");
    }

    static InvalidOperationException Absent(string choice, string reason) =>
        new($"device '{choice}' is not available: {reason}. Devices present: {Describe(List())}");

    static string Describe(IReadOnlyList<DeviceInfo> devices) => string.Join("; ", devices.Select(d => d.ToString()));
}
