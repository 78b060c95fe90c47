using O2RL.Algorithms.Training;
using O2RL.Data.Replay;

namespace O2RL.Algorithms.FineTuning.O2Sac;

/// <summary>
/// Stage C of O2SAC as the online loop sees it: π_θ acts (a sample, clamped to [−1, 1] by the tanh), and every
/// update is <see cref="O2SacLearner.ConstrainedUpdate"/> with the environment step t and the index k. Its training
/// state (for mid-stage-C checkpoints) is the learner's and, when set, the <see cref="Tracker"/>'s.
/// </summary>
public sealed class O2SacAgent : IOffPolicyAgent, IResumableAgent
{
    readonly System.Diagnostics.Stopwatch clock = new();
    long timedUpdates;

    /// <summary>Wraps the learner (after stages A and B, or resumed from a stage file).</summary>
    public O2SacAgent(O2SacLearner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        Learner = learner;
        var sac = learner.Sac;
        Policy = new DevicePolicy(sac.Alpha.Backend, sac.ObsDim, sac.ActionDim, sac.Act);
    }

    /// <summary>The learner.</summary>
    public O2SacLearner Learner { get; }

    /// <summary>The rule that replaces π_ref at evaluations (its best score is part of the state); null when none.</summary>
    public ReferencePolicyTracker? Tracker { get; set; }

    /// <inheritdoc/>
    public void SaveState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Learner.SaveTrainingState(state);
        state.SetCounter("o2sac.has_tracker", Tracker is null ? 0 : 1);
        Tracker?.SaveState(state, "o2sac.reference_tracker");
    }

    /// <inheritdoc/>
    public void RestoreState(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if ((state.GetCounter("o2sac.has_tracker") != 0) != (Tracker is not null))
            throw new InvalidDataException($"{state.Source ?? "training state"}: saved {(Tracker is null ? "with" : "without")} a reference tracker, restored {(Tracker is null ? "without" : "with")} one");
        Learner.RestoreTrainingState(state);
        Tracker?.RestoreState(state, "o2sac.reference_tracker");
    }

    /// <inheritdoc/>
    public IPolicy Policy { get; }

    /// <inheritdoc/>
    /// <remarks>
    /// The constrained update makes the same launches at each position k of an environment step's UTD updates (the
    /// dual step runs at k = 0 only, hence one phase per k); λ, α and π_ref live on the device, and the scheduled
    /// threshold ε_t enters as a filled device scalar, so on CUDA the update is replayed from graphs.
    /// </remarks>
    public bool UpdatesCanBeGraphed => true;

    /// <inheritdoc/>
    public int UpdateGraphPhases => Learner.Config.UpdatesPerStep;

    /// <inheritdoc/>
    public void Update(TransitionBatch batch, long environmentStep, int updateIndex)
    {
        clock.Start();
        Learner.ConstrainedUpdate(batch, environmentStep, updateIndex);
        clock.Stop();
        timedUpdates++;
    }

    /// <inheritdoc/>
    public void LogMetrics(IMetricsSink metrics, long step)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var sac = Learner.Sac;
        var backend = sac.Alpha.Backend;
        metrics.Log(step, "losses/qf_loss", backend.ReadScalar(sac.CriticLoss));
        metrics.Log(step, "losses/actor_loss", backend.ReadScalar(sac.ActorLoss));
        metrics.Log(step, "losses/alpha", backend.ReadScalar(sac.Alpha));
        metrics.Log(step, "losses/alpha_loss", backend.ReadScalar(sac.AlphaLoss));
        metrics.Log(step, "losses/qf_values", backend.ReadScalar(sac.MeanQ));
        metrics.Log(step, "losses/lambda", Learner.Lambda.ReadLambda());
        metrics.Log(step, "losses/lambda_loss", backend.ReadScalar(Learner.Lambda.Loss));
        metrics.Log(step, "charts/threshold", Learner.Threshold.At(step));
        // Mean wall time of the updates since the last log (milliseconds; the device work is synchronous on the CPU).
        if (timedUpdates > 0) metrics.Log(step, "time/update", clock.Elapsed.TotalMilliseconds / timedUpdates);
        clock.Reset(); timedUpdates = 0;
    }
}
