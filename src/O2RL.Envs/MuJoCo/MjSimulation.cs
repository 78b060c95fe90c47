namespace O2RL.Envs.MuJoCo;

/// <summary>
/// One mjData: the state of one simulation of a shared <see cref="MjModel"/>. Not thread-safe by itself; give
/// each thread its own.
/// </summary>
internal sealed unsafe class MjSimulation : IDisposable
{
    private readonly MjModel model;
    private void* data;

    /// <summary>Allocates an mjData for <paramref name="model"/>.</summary>
    public MjSimulation(MjModel model)
    {
        this.model = model;
        data = MuJoCoLibrary.mj_makeData(model.Handle);
        MuJoCoLibrary.ThrowIfError("allocating the state of", model.Name);
        if (data == null) throw new MuJoCoException($"{model.Name}: mj_makeData returned null");
    }

    /// <summary>The model this state belongs to.</summary>
    public MjModel Model => model;

    private byte* DataPointer => data != null ? (byte*)data : throw new ObjectDisposedException(model.Name);

    private Span<double> Array(int offset, int length) => new(*(double**)(DataPointer + offset), length);

    /// <summary>Simulation time.</summary>
    public double Time
    {
        get => *(double*)(DataPointer + MjLayout.DataTime);
        set => *(double*)(DataPointer + MjLayout.DataTime) = value;
    }

    /// <summary>Positions, [nq].</summary>
    public Span<double> Qpos => Array(MjLayout.DataQpos, model.Nq);

    /// <summary>Velocities, [nv].</summary>
    public Span<double> Qvel => Array(MjLayout.DataQvel, model.Nv);

    /// <summary>Actuator activations, [na].</summary>
    public Span<double> Act => Array(MjLayout.DataAct, model.Na);

    /// <summary>Accelerations the solver warm-starts from, [nv].</summary>
    public Span<double> QaccWarmstart => Array(MjLayout.DataQaccWarmstart, model.Nv);

    /// <summary>Controls, [nu].</summary>
    public Span<double> Ctrl => Array(MjLayout.DataCtrl, model.Nu);

    /// <summary>Body frame positions, [nbody, 3].</summary>
    public Span<double> Xpos => Array(MjLayout.DataXpos, model.Nbody * 3);

    /// <summary>Com-based external forces per body, [nbody, 6] (filled only by mj_rnePostConstraint).</summary>
    public Span<double> CfrcExt => Array(MjLayout.DataCfrcExt, model.Nbody * 6);

    /// <summary>World position of body <paramref name="body"/>'s frame, [3].</summary>
    public ReadOnlySpan<double> BodyPosition(int body) => Xpos.Slice(body * 3, 3);

    /// <summary>True when qpos points into mjData's main buffer (used by the layout self-check).</summary>
    internal bool QposLiesInBuffer
    {
        get
        {
            byte* buffer = *(byte**)(DataPointer + MjLayout.DataBuffer);
            int size = *(int*)(DataPointer + MjLayout.DataNbuffer);
            byte* qpos = *(byte**)(DataPointer + MjLayout.DataQpos);
            return buffer != null && qpos >= buffer && qpos < buffer + size;
        }
    }

    /// <summary>
    /// Number of times MuJoCo found a bad (NaN or |x| &gt; 1e10) qpos, qvel or qacc since the last reset. Each time it
    /// also silently reset the state to the default pose.
    /// </summary>
    public int InstabilityCount
    {
        get
        {
            byte* warnings = DataPointer + MjLayout.DataWarning + MjLayout.WarningNumber;
            return *(int*)(warnings + MjLayout.WarningBadQpos * MjLayout.WarningStride)
                 + *(int*)(warnings + MjLayout.WarningBadQvel * MjLayout.WarningStride)
                 + *(int*)(warnings + MjLayout.WarningBadQacc * MjLayout.WarningStride);
        }
    }

    /// <summary>mj_resetData: default pose, zero velocity, time 0, warnings cleared.</summary>
    public void Reset()
    {
        MuJoCoLibrary.mj_resetData(model.Handle, DataPointer);
        MuJoCoLibrary.ThrowIfError("mj_resetData of", model.Name);
    }

    /// <summary>mj_forward: recompute derived quantities (positions, contacts) from qpos/qvel.</summary>
    public void Forward()
    {
        MuJoCoLibrary.mj_forward(model.Handle, DataPointer);
        MuJoCoLibrary.ThrowIfError("mj_forward of", model.Name);
    }

    /// <summary>
    /// Runs <paramref name="substeps"/> mj_step calls. Returns false, stopping early, as soon as MuJoCo detects
    /// instability (it has then reset the state to the default pose, which must not be used as a continuation).
    /// </summary>
    public bool Step(int substeps)
    {
        void* m = model.Handle;
        byte* d = DataPointer;
        int before = InstabilityCount;
        for (int i = 0; i < substeps; i++)
        {
            double timeBefore = *(double*)(d + MjLayout.DataTime);
            MuJoCoLibrary.mj_step(m, d);
            MuJoCoLibrary.ThrowIfError("mj_step of", model.Name);
            // The warning counter is the primary signal; time running backwards catches a reset whose counter
            // was already non-zero.
            if (InstabilityCount != before || *(double*)(d + MjLayout.DataTime) <= timeBefore) return false;
        }
        return true;
    }

    /// <summary>mj_rnePostConstraint: fills cfrc_ext / cacc / cfrc_int.</summary>
    public void ComputeContactForces()
    {
        MuJoCoLibrary.mj_rnePostConstraint(model.Handle, DataPointer);
        MuJoCoLibrary.ThrowIfError("mj_rnePostConstraint of", model.Name);
    }

    /// <summary>Frees the native state.</summary>
    public void Dispose()
    {
        if (data != null)
        {
            MuJoCoLibrary.mj_deleteData(data);
            data = null;
        }
        GC.SuppressFinalize(this);
    }

    ~MjSimulation()
    {
        if (data != null) MuJoCoLibrary.mj_deleteData(data);
    }
}
