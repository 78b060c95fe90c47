using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace O2RL.Envs.MuJoCo;

/// <summary>Raised when MuJoCo reports an error, or when the library is missing or is not the expected version.</summary>
public sealed class MuJoCoException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public MuJoCoException(string message) : base(message)
    {
    }
}

/// <summary>
/// Loads the MuJoCo 2.2.2 shared library and binds the few C functions the environments use.
/// </summary>
/// <remarks>
/// Debian's libmujoco2.2.2 installs only the versioned file libmujoco.so.2.2.2 (the plain libmujoco.so comes with
/// the -dev package), so the loader tries the versioned name first. The variable O2RL_MUJOCO_LIBRARY may name the
/// file explicitly. Binding goes through NativeLibrary exports and unmanaged function pointers, which also avoids
/// marshalling stubs on the per-step calls. Fields of mjModel/mjData are read at the offsets in
/// <see cref="MjLayout"/> (generated from the 2.2.2 headers), so the version must match exactly; a layout
/// self-check on a tiny model guards against a silently different build.
/// </remarks>
public static unsafe class MuJoCoLibrary
{
    /// <summary>mj_version() this layer was generated for.</summary>
    public const int RequiredVersion = MjLayout.HeaderVersion;

    /// <summary>What to tell a user who lacks the library.</summary>
    public const string InstallHint =
        "install MuJoCo 2.2.2 (Debian/Ubuntu: apt-get install libmujoco2.2.2), or set O2RL_MUJOCO_LIBRARY to the path of libmujoco.so.2.2.2";

    private static readonly Lock LoadGate = new();
    private static readonly Lock CompileGate = new();
    private static bool attempted;
    private static string? unavailableReason;
    private static string? versionString;

    [ThreadStatic] private static string? pendingError;
    [ThreadStatic] private static string? lastWarning;

    internal static delegate* unmanaged[Cdecl]<int> mj_version;
    internal static delegate* unmanaged[Cdecl]<byte*> mj_versionString;
    internal static delegate* unmanaged[Cdecl]<void*, void> mj_defaultVFS;
    internal static delegate* unmanaged[Cdecl]<void*, byte*, int, int> mj_makeEmptyFileVFS;
    internal static delegate* unmanaged[Cdecl]<void*, byte*, int> mj_findFileVFS;
    internal static delegate* unmanaged[Cdecl]<void*, void> mj_deleteVFS;
    internal static delegate* unmanaged[Cdecl]<byte*, void*, byte*, int, void*> mj_loadXML;
    internal static delegate* unmanaged[Cdecl]<void*, void> mj_deleteModel;
    internal static delegate* unmanaged[Cdecl]<void*, void*> mj_makeData;
    internal static delegate* unmanaged[Cdecl]<void*, void> mj_deleteData;
    internal static delegate* unmanaged[Cdecl]<void*, void*, void> mj_resetData;
    internal static delegate* unmanaged[Cdecl]<void*, void*, void> mj_forward;
    internal static delegate* unmanaged[Cdecl]<void*, void*, void> mj_step;
    internal static delegate* unmanaged[Cdecl]<void*, void*, void> mj_rnePostConstraint;
    internal static delegate* unmanaged[Cdecl]<void*, int, byte*, int> mj_name2id;

    /// <summary>True when MuJoCo 2.2.2 was found, bound and passed the layout self-check.</summary>
    public static bool IsAvailable => TryLoad() is null;

    /// <summary>Why MuJoCo cannot be used here (null when it can).</summary>
    public static string? UnavailableReason => TryLoad();

    /// <summary>The library's version string (null when unavailable).</summary>
    public static string? VersionString
    {
        get
        {
            TryLoad();
            return versionString;
        }
    }

    /// <summary>Throws <see cref="MuJoCoException"/> with install instructions unless the library is usable.</summary>
    public static void EnsureAvailable()
    {
        if (TryLoad() is string reason) throw new MuJoCoException(reason);
    }

    private static string? TryLoad()
    {
        if (Volatile.Read(ref attempted)) return unavailableReason;
        lock (LoadGate)
        {
            if (!attempted)
            {
                unavailableReason = Load();
                Volatile.Write(ref attempted, true);
            }
            return unavailableReason;
        }
    }

    private static string? Load()
    {
        IntPtr handle = IntPtr.Zero;
        var tried = new List<string>();
        foreach (var name in CandidateNames())
        {
            tried.Add(name);
            if (NativeLibrary.TryLoad(name, typeof(MuJoCoLibrary).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out handle))
                break;
            handle = IntPtr.Zero;
        }
        if (handle == IntPtr.Zero)
            return $"MuJoCo {RequiredVersion / 100}.{RequiredVersion / 10 % 10}.{RequiredVersion % 10} was not found (tried {string.Join(", ", tried)}); {InstallHint}";

        try
        {
            mj_version = (delegate* unmanaged[Cdecl]<int>)Export(handle, "mj_version");
            int version = mj_version();
            if (version != RequiredVersion)
                return $"the MuJoCo library found reports mj_version() = {version} but {RequiredVersion} is required (struct offsets are version-specific); {InstallHint}";
            mj_versionString = (delegate* unmanaged[Cdecl]<byte*>)Export(handle, "mj_versionString");
            mj_defaultVFS = (delegate* unmanaged[Cdecl]<void*, void>)Export(handle, "mj_defaultVFS");
            mj_makeEmptyFileVFS = (delegate* unmanaged[Cdecl]<void*, byte*, int, int>)Export(handle, "mj_makeEmptyFileVFS");
            mj_findFileVFS = (delegate* unmanaged[Cdecl]<void*, byte*, int>)Export(handle, "mj_findFileVFS");
            mj_deleteVFS = (delegate* unmanaged[Cdecl]<void*, void>)Export(handle, "mj_deleteVFS");
            mj_loadXML = (delegate* unmanaged[Cdecl]<byte*, void*, byte*, int, void*>)Export(handle, "mj_loadXML");
            mj_deleteModel = (delegate* unmanaged[Cdecl]<void*, void>)Export(handle, "mj_deleteModel");
            mj_makeData = (delegate* unmanaged[Cdecl]<void*, void*>)Export(handle, "mj_makeData");
            mj_deleteData = (delegate* unmanaged[Cdecl]<void*, void>)Export(handle, "mj_deleteData");
            mj_resetData = (delegate* unmanaged[Cdecl]<void*, void*, void>)Export(handle, "mj_resetData");
            mj_forward = (delegate* unmanaged[Cdecl]<void*, void*, void>)Export(handle, "mj_forward");
            mj_step = (delegate* unmanaged[Cdecl]<void*, void*, void>)Export(handle, "mj_step");
            mj_rnePostConstraint = (delegate* unmanaged[Cdecl]<void*, void*, void>)Export(handle, "mj_rnePostConstraint");
            mj_name2id = (delegate* unmanaged[Cdecl]<void*, int, byte*, int>)Export(handle, "mj_name2id");
            versionString = Marshal.PtrToStringUTF8((IntPtr)mj_versionString());

            // MuJoCo's default error handler prints and calls exit(); ours records the message so that the call
            // site can throw a managed exception (an exception must never unwind through native frames).
            *(IntPtr*)Export(handle, "mju_user_error") = (IntPtr)(delegate* unmanaged[Cdecl]<byte*, void>)&OnError;
            *(IntPtr*)Export(handle, "mju_user_warning") = (IntPtr)(delegate* unmanaged[Cdecl]<byte*, void>)&OnWarning;
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the MuJoCo library lacks an expected function ({e.Message}); {InstallHint}";
        }
        return LayoutSelfCheck();
    }

    private static IEnumerable<string> CandidateNames()
    {
        var explicitPath = Environment.GetEnvironmentVariable("O2RL_MUJOCO_LIBRARY");
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            // An explicit choice is not second-guessed: if it fails, the error names it.
            yield return explicitPath;
            yield break;
        }
        if (OperatingSystem.IsWindows())
        {
            yield return "mujoco.dll";
            yield break;
        }
        if (OperatingSystem.IsMacOS())
        {
            yield return "libmujoco.2.2.2.dylib";
            yield return "libmujoco.dylib";
            yield break;
        }
        yield return "libmujoco.so.2.2.2";
        yield return "libmujoco.so";
    }

    private static IntPtr Export(IntPtr handle, string name) => NativeLibrary.GetExport(handle, name);

    private const string SelfCheckXml = """
        <mujoco>
          <option timestep="0.0125"/>
          <worldbody>
            <body name="probe" pos="0 0 1">
              <joint name="lift" type="slide" axis="0 0 1" range="-0.5 0.25" limited="true"/>
              <geom type="sphere" size="0.1" mass="2.5" friction="0.75 0.01 0.001"/>
            </body>
          </worldbody>
          <actuator><motor joint="lift" gear="3" ctrllimited="true" ctrlrange="-1.5 1.5"/></actuator>
        </mujoco>
        """;

    // Reads fields of a known model through the generated offsets; any mismatch means the installed library's
    // structs differ from the headers MjLayout was generated from.
    private static string? LayoutSelfCheck()
    {
        try
        {
            using var model = MjModel.CompileLoaded(SelfCheckXml, "layout self-check");
            using var simulation = new MjSimulation(model);
            var problems = new List<string>();
            if (model.Nq != 1 || model.Nv != 1 || model.Nu != 1 || model.Nbody != 2)
                problems.Add($"sizes nq={model.Nq} nv={model.Nv} nu={model.Nu} nbody={model.Nbody}, expected 1/1/1/2");
            else
            {
                if (model.Timestep != 0.0125) problems.Add($"opt.timestep reads {model.Timestep}, expected 0.0125");
                if (model.BodyMass[1] != 2.5) problems.Add($"body_mass[1] reads {model.BodyMass[1]}, expected 2.5");
                if (model.ActuatorGear[0] != 3) problems.Add($"actuator_gear[0] reads {model.ActuatorGear[0]}, expected 3");
                if (model.ActuatorCtrlRange[1] != 1.5) problems.Add($"actuator_ctrlrange reads {model.ActuatorCtrlRange[1]}, expected 1.5");
                if (model.JointRange[0] != -0.5) problems.Add($"jnt_range reads {model.JointRange[0]}, expected -0.5");
                if (model.GeomFriction[0] != 0.75) problems.Add($"geom_friction reads {model.GeomFriction[0]}, expected 0.75");
                if (!simulation.QposLiesInBuffer) problems.Add("mjData.qpos does not point into mjData.buffer");
                simulation.Qpos[0] = 0.125;
                simulation.Forward();
                if (Math.Abs(simulation.BodyPosition(1)[2] - 1.125) > 1e-12)
                    problems.Add($"xpos of the probe reads {simulation.BodyPosition(1)[2]}, expected 1.125");
            }
            return problems.Count == 0
                ? null
                : $"the MuJoCo library's struct layout does not match version {RequiredVersion}: {string.Join("; ", problems)}; {InstallHint}";
        }
        catch (MuJoCoException e)
        {
            return $"MuJoCo failed its self-check: {e.Message}";
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(byte* message)
    {
        // Keep the first error of a call; later ones are usually consequences of it.
        pendingError ??= Marshal.PtrToStringUTF8((IntPtr)message) ?? "unknown MuJoCo error";
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWarning(byte* message)
    {
        lastWarning = Marshal.PtrToStringUTF8((IntPtr)message);
    }

    /// <summary>The last warning MuJoCo printed on this thread (null if none); MuJoCo reports each kind once per reset.</summary>
    public static string? LastWarning => lastWarning;

    /// <summary>Throws the error MuJoCo reported on this thread during the last native call, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ThrowIfError(string operation, string modelName)
    {
        // Both arguments are constants or stored strings, so the check allocates nothing unless it throws.
        if (pendingError is not null) ThrowPending(operation, modelName);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowPending(string operation, string modelName)
    {
        var message = pendingError;
        pendingError = null;
        throw new MuJoCoException($"MuJoCo error in {operation} {modelName}: {message}");
    }

    /// <summary>Compiling is serialised: the 2.2.2 XML parser and compiler keep global state.</summary>
    internal static Lock CompileLock => CompileGate;
}
