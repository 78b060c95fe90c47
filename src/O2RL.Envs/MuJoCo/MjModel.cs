using System.Runtime.InteropServices;
using System.Text;

namespace O2RL.Envs.MuJoCo;

/// <summary>
/// A compiled mjModel. Read-only after compilation, so one instance backs any number of
/// <see cref="MjSimulation"/>s on any threads (do not change model parameters while they step).
/// </summary>
internal sealed unsafe class MjModel : IDisposable
{
    private void* handle;

    private MjModel(void* handle, string name)
    {
        this.handle = handle;
        Name = name;
    }

    /// <summary>Name used in error messages.</summary>
    public string Name { get; }

    /// <summary>The native mjModel*.</summary>
    public void* Handle => handle != null ? handle : throw new ObjectDisposedException(Name);

    /// <summary>Compiles MJCF text (after checking that MuJoCo 2.2.2 is usable).</summary>
    public static MjModel Compile(string xml, string name)
    {
        MuJoCoLibrary.EnsureAvailable();
        return CompileLoaded(xml, name);
    }

    /// <summary>Compiles MJCF text; the library must already be bound.</summary>
    internal static MjModel CompileLoaded(string xml, string name)
    {
        ArgumentNullException.ThrowIfNull(xml);
        // The text goes through MuJoCo's virtual file system so nothing touches the disk.
        byte[] bytes = Encoding.UTF8.GetBytes(xml);
        byte[] fileName = "model.xml\0"u8.ToArray();
        const int errorLength = 1000;
        byte* error = stackalloc byte[errorLength];
        error[0] = 0;
        void* vfs = NativeMemory.AllocZeroed((nuint)MjLayout.SizeOfVfs);
        void* model;
        try
        {
            lock (MuJoCoLibrary.CompileLock)
            {
                fixed (byte* fileNamePointer = fileName)
                {
                    MuJoCoLibrary.mj_defaultVFS(vfs);
                    try
                    {
                        int status = MuJoCoLibrary.mj_makeEmptyFileVFS(vfs, fileNamePointer, bytes.Length);
                        MuJoCoLibrary.ThrowIfError("storing in memory the model", name);
                        if (status != 0)
                            throw new MuJoCoException($"{name}: could not create an in-memory file of {bytes.Length} bytes for the model (status {status})");
                        int index = MuJoCoLibrary.mj_findFileVFS(vfs, fileNamePointer);
                        void* fileData = ((void**)((byte*)vfs + MjLayout.VfsFileData))[index];
                        bytes.AsSpan().CopyTo(new Span<byte>(fileData, bytes.Length));
                        model = MuJoCoLibrary.mj_loadXML(fileNamePointer, vfs, error, errorLength);
                    }
                    finally
                    {
                        MuJoCoLibrary.mj_deleteVFS(vfs);
                    }
                }
            }
        }
        finally
        {
            NativeMemory.Free(vfs);
        }
        MuJoCoLibrary.ThrowIfError("compiling", name);
        if (model == null)
            throw new MuJoCoException($"{name}: MuJoCo could not compile the model: {Marshal.PtrToStringUTF8((IntPtr)error)}");
        return new MjModel(model, name);
    }

    private int ReadInt(int offset) => *(int*)((byte*)Handle + offset);

    private ReadOnlySpan<double> ReadArray(int offset, int length) => new(*(double**)((byte*)Handle + offset), length);

    /// <summary>Number of generalised coordinates (qpos length).</summary>
    public int Nq => ReadInt(MjLayout.ModelNq);

    /// <summary>Number of degrees of freedom (qvel length).</summary>
    public int Nv => ReadInt(MjLayout.ModelNv);

    /// <summary>Number of actuators (ctrl length).</summary>
    public int Nu => ReadInt(MjLayout.ModelNu);

    /// <summary>Number of activation states (act length).</summary>
    public int Na => ReadInt(MjLayout.ModelNa);

    /// <summary>Number of bodies, world included.</summary>
    public int Nbody => ReadInt(MjLayout.ModelNbody);

    /// <summary>Number of joints.</summary>
    public int Njnt => ReadInt(MjLayout.ModelNjnt);

    /// <summary>Number of geoms.</summary>
    public int Ngeom => ReadInt(MjLayout.ModelNgeom);

    /// <summary>Simulation time step (opt.timestep).</summary>
    public double Timestep => *(double*)((byte*)Handle + MjLayout.ModelTimestep);

    /// <summary>Default pose, [Nq].</summary>
    public ReadOnlySpan<double> Qpos0 => ReadArray(MjLayout.ModelQpos0, Nq);

    /// <summary>Body masses, [Nbody].</summary>
    public ReadOnlySpan<double> BodyMass => ReadArray(MjLayout.ModelBodyMass, Nbody);

    /// <summary>Joint ranges, [Njnt, 2].</summary>
    public ReadOnlySpan<double> JointRange => ReadArray(MjLayout.ModelJntRange, Njnt * 2);

    /// <summary>Geom frictions, [Ngeom, 3].</summary>
    public ReadOnlySpan<double> GeomFriction => ReadArray(MjLayout.ModelGeomFriction, Ngeom * 3);

    /// <summary>Actuator gears, [Nu, 6].</summary>
    public ReadOnlySpan<double> ActuatorGear => ReadArray(MjLayout.ModelActuatorGear, Nu * 6);

    /// <summary>Actuator control ranges, [Nu, 2].</summary>
    public ReadOnlySpan<double> ActuatorCtrlRange => ReadArray(MjLayout.ModelActuatorCtrlrange, Nu * 2);

    /// <summary>Index of the body named <paramref name="bodyName"/>, or −1.</summary>
    public int BodyId(string bodyName)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(bodyName + "\0");
        fixed (byte* pointer = nameBytes)
            return MuJoCoLibrary.mj_name2id(Handle, MjLayout.ObjectBody, pointer);
    }

    /// <summary>Frees the native model.</summary>
    public void Dispose()
    {
        if (handle != null)
        {
            MuJoCoLibrary.mj_deleteModel(handle);
            handle = null;
        }
        GC.SuppressFinalize(this);
    }

    ~MjModel()
    {
        if (handle != null) MuJoCoLibrary.mj_deleteModel(handle);
    }
}
