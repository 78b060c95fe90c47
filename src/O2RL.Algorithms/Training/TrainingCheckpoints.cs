using System.Globalization;
using System.Text.Json.Nodes;
using O2RL.Algorithms.Runs;

namespace O2RL.Algorithms.Training;

/// <summary>
/// Periodic full-state checkpoints of a training loop and the state to resume from. The loop saves at the first
/// episode end at or after every <see cref="Interval"/> environment steps (so the environment restarts from its
/// derived episode seed on resume, which makes resuming exact), after every value of that step has been flushed;
/// the offline loop (<see cref="OfflineTrainer"/>), which has no episodes, saves at every multiple of the interval.
/// Files are <c>checkpoints/step_NNNNNNNNNN.safetensors</c> in the run folder, written atomically; the two newest
/// are kept. A run that gives a <see cref="PolicyWriter"/> also writes <c>checkpoints/policy_NNNNNNNNNN.safetensors</c>
/// beside each: the policy file of that step, in the layout of the run's final one, so that a run stopped by a crash,
/// Ctrl+C or a divergence leaves a policy that <c>o2rl act</c>, <c>O2RL.Inference</c> and <c>--from</c> take as it is
/// (a step state holds flat parameter vectors for resuming and no normalisation constants). With a policy writer it
/// also keeps <c>best_policy.safetensors</c> in the run folder: the policy of the best evaluation of the training
/// loop so far (the first on ties; NaN scores never count), with <c>best_policy.json</c> naming its step and score,
/// for a deployment that wants the best policy a run saw rather than its last.
/// </summary>
public sealed class TrainingCheckpoints
{
    /// <summary>How many checkpoint files stay on disk (the newest ones).</summary>
    public const int Kept = 2;

    /// <summary>Checkpoints into <paramref name="directory"/> every <paramref name="interval"/> steps; resumes from <paramref name="resumeState"/> when given.</summary>
    public TrainingCheckpoints(string directory, long interval, IResumableAgent agent, string algorithm, TrainingState? resumeState = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentException.ThrowIfNullOrEmpty(algorithm);
        ArgumentOutOfRangeException.ThrowIfNegative(interval);
        Directory = directory;
        Interval = interval;
        Agent = agent;
        Algorithm = algorithm;
        if (resumeState?.GetTextOrNull("algorithm") is string stored && stored != algorithm)
            throw new InvalidDataException($"{resumeState.Source} is a {stored} training state; this run trains {algorithm}");
        ResumeState = resumeState;
    }

    /// <summary>Folder of the checkpoint files.</summary>
    public string Directory { get; }

    /// <summary>Environment steps between checkpoints (0 = never save; resuming still works).</summary>
    public long Interval { get; }

    /// <summary>The learner whose state is saved.</summary>
    public IResumableAgent Agent { get; }

    /// <summary>Algorithm name, stored in and checked against every state.</summary>
    public string Algorithm { get; }

    /// <summary>The state to continue from, or null to start fresh.</summary>
    public TrainingState? ResumeState { get; }

    /// <summary>Path of the newest file saved by this object (null before the first).</summary>
    public string? LastSavedPath { get; private set; }

    /// <summary>Step of the newest saved (or resumed) state; -1 when none.</summary>
    public long LastGoodStep { get; private set; } = -1;

    /// <summary>
    /// Writes the run's policy file to the path it is given (the same writer as the run's final
    /// <c>&lt;algorithm&gt;.safetensors</c>); null: step states only.
    /// </summary>
    public Action<string>? PolicyWriter { get; init; }

    /// <summary>
    /// Folder of <c>best_policy.safetensors</c> (the run folder); null when the run writes no folder (a resumed
    /// run without an output folder) or no policy.
    /// </summary>
    public string? BestPolicyFolder { get; private init; }

    /// <summary>The step and score of the best evaluation so far (this run's, or resumed from its <c>best_policy.json</c>).</summary>
    public (long Step, double Score)? Best { get; private set; }

    /// <summary>
    /// Notes an evaluation of the training loop at <paramref name="step"/>: when its score beats every earlier one,
    /// the policy is written to <c>best_policy.safetensors</c> (through a temporary name, then moved, so a crash
    /// leaves the previous best whole) and <c>best_policy.json</c> records the step and score.
    /// </summary>
    internal void Evaluated(long step, EvaluationResult result)
    {
        if (BestPolicyFolder is null || PolicyWriter is null || !double.IsFinite(result.Score)) return;
        if (Best is { } best && result.Score <= best.Score) return;
        string path = Path.Combine(BestPolicyFolder, RunFolder.BestPolicyFile);
        string partial = Path.Combine(BestPolicyFolder, ".writing-" + RunFolder.BestPolicyFile);
        PolicyWriter(partial);
        File.Move(partial, path, overwrite: true);
        Best = (step, result.Score);
        var info = new JsonObject
        {
            ["step"] = step,
            ["score"] = result.Score,
            ["mean_return"] = result.MeanReturn,
            ["normalized_return"] = result.NormalizedMean,
            ["episodes"] = result.Returns.Length,
            ["policy"] = RunFolder.BestPolicyFile,
        };
        AtomicFile.WriteAllText(Path.Combine(BestPolicyFolder, RunFolder.BestPolicyInfoFile), info.ToJsonString(JsonFiles.Serializer) + "\n");
    }

    /// <summary>The best evaluation recorded in <paramref name="folder"/>'s <c>best_policy.json</c>, or null.</summary>
    static (long Step, double Score)? ReadBest(string folder)
    {
        string infoPath = Path.Combine(folder, RunFolder.BestPolicyInfoFile);
        if (!File.Exists(infoPath) || !File.Exists(Path.Combine(folder, RunFolder.BestPolicyFile))) return null;
        JsonNode? info;
        try { info = JsonNode.Parse(File.ReadAllText(infoPath)); }
        catch (System.Text.Json.JsonException) { info = null; }
        if (info is JsonObject record && record["step"] is JsonValue step && step.TryGetValue(out long bestStep)
            && record["score"] is JsonValue score && score.TryGetValue(out double bestScore))
            return (bestStep, bestScore);
        throw new InvalidDataException($"{infoPath} is not a best-policy record (an object with step and score); delete it and best_policy.safetensors to start the record afresh");
    }

    /// <summary>
    /// Checkpoints for a run described by <paramref name="context"/>: every <see cref="RunContext.CheckpointEvery"/>
    /// steps (null: <paramref name="evaluateEvery"/>) into the output folder, resuming from
    /// <see cref="RunContext.ResumeCheckpoint"/>. Null when the run neither writes a folder nor resumes.
    /// </summary>
    public static TrainingCheckpoints? For(RunContext context, IResumableAgent agent, string algorithm, long evaluateEvery,
        Action<string>? policyWriter = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? directory = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, RunFolder.CheckpointsFolder);
        return Create(directory, context.CheckpointEvery, evaluateEvery, context.ResumeCheckpoint, agent, algorithm, policyWriter);
    }

    /// <summary>
    /// Checkpoints into <paramref name="directory"/> every <paramref name="checkpointEvery"/> steps (null:
    /// <paramref name="evaluateEvery"/>), resuming from <paramref name="resumeCheckpoint"/>. Without a directory a
    /// resumed run saves nothing new (its checkpoint's folder is only named in messages). Null when there is neither.
    /// </summary>
    public static TrainingCheckpoints? Create(string? directory, long? checkpointEvery, long evaluateEvery, string? resumeCheckpoint,
        IResumableAgent agent, string algorithm, Action<string>? policyWriter = null)
    {
        if (directory is null && resumeCheckpoint is null) return null;
        var resume = resumeCheckpoint is null ? null : TrainingState.Read(resumeCheckpoint);
        long interval = directory is null ? 0 : checkpointEvery ?? Math.Max(evaluateEvery, 0);
        string? bestFolder = directory is null || policyWriter is null ? null : Path.GetDirectoryName(Path.GetFullPath(directory));
        return new TrainingCheckpoints(directory ?? Path.GetDirectoryName(Path.GetFullPath(resumeCheckpoint!))!, interval, agent, algorithm, resume)
        {
            PolicyWriter = policyWriter,
            BestPolicyFolder = bestFolder,
            // A resumed run goes on with its record; a fresh run starts one (its folder is new).
            Best = resume is not null && bestFolder is not null ? ReadBest(bestFolder) : null,
        };
    }

    /// <summary>Notes that the run continues from the resumed state's step.</summary>
    internal void MarkResumed(long step) => LastGoodStep = step;

    /// <summary>
    /// Saves <paramref name="state"/> (loop counters already in it; the agent's state is added here) as the
    /// checkpoint of <paramref name="step"/>. Refuses a state with a non-finite value: the run has diverged and
    /// the previous checkpoint stays the last good one.
    /// </summary>
    internal void Save(long step, TrainingState state)
    {
        Agent.SaveState(state);
        state.SetText("algorithm", Algorithm);
        state.SetCounter("trainer.step", step);
        if (state.FirstNonFiniteTensor() is string bad)
            throw new TrainingDivergedException($"'{bad}' holds NaN or infinity at step {step.ToString("N0", CultureInfo.InvariantCulture)}; not saved", LastGoodStep, LastSavedPath);
        string path = Path.Combine(Directory, RunFolder.CheckpointFileName(step));
        state.Write(path);
        LastSavedPath = path;
        LastGoodStep = step;
        if (PolicyWriter is not null)
        {
            // Written under a name the pruning does not match, then moved: a crash mid-write leaves no torn policy file.
            string policyPath = Path.Combine(Directory, RunFolder.PolicyFileName(step));
            string partial = Path.Combine(Directory, ".writing-" + Path.GetFileName(policyPath));
            PolicyWriter(partial);
            File.Move(partial, policyPath, overwrite: true);
        }
        // Keep the newest few: older ones are never resumed from, and with a full replay buffer each is large.
        Prune(RunFolder.CheckpointPrefix);
        Prune(RunFolder.PolicyPrefix);
    }

    void Prune(string prefix)
    {
        var files = System.IO.Directory.EnumerateFiles(Directory, prefix + "*" + RunFolder.CheckpointExtension).Order(StringComparer.Ordinal).ToList();
        foreach (var file in files.Take(Math.Max(0, files.Count - Kept))) File.Delete(file);
    }
}

/// <summary>
/// Training produced a non-finite loss or parameter: the run stops, and the last good checkpoint (if any) stays on
/// disk (its networks can be inspected, or loaded with <c>--from</c> into a new run with a changed config).
/// </summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>A divergence described by <paramref name="what"/>, with the last good checkpoint.</summary>
    public TrainingDivergedException(string what, long lastGoodStep, string? lastGoodCheckpoint)
        : base($"training diverged: {what}; " + (lastGoodCheckpoint is null
            ? lastGoodStep >= 0 ? $"the run resumed from step {lastGoodStep.ToString("N0", CultureInfo.InvariantCulture)} has no newer checkpoint" : "no checkpoint was saved"
            : $"last good checkpoint: step {lastGoodStep.ToString("N0", CultureInfo.InvariantCulture)} ({lastGoodCheckpoint})" + PolicyBeside(lastGoodCheckpoint, lastGoodStep)))
    {
        LastGoodStep = lastGoodStep;
        LastGoodCheckpoint = lastGoodCheckpoint;
    }

    /// <summary>Step of the last good checkpoint, -1 when none.</summary>
    public long LastGoodStep { get; }

    static string PolicyBeside(string checkpoint, long step)
    {
        string policy = Path.Combine(Path.GetDirectoryName(checkpoint) ?? ".", RunFolder.PolicyFileName(step));
        return File.Exists(policy) ? $", its policy: {policy}" : "";
    }

    /// <summary>Path of the last good checkpoint, or null.</summary>
    public string? LastGoodCheckpoint { get; }
}

/// <summary>
/// Forwards metrics and remembers the first non-finite loss (names under <c>losses/</c>) logged since the last
/// <see cref="Reset"/>: the loops read losses only where they log them, so divergence costs no extra device reads.
/// </summary>
internal sealed class LossWatch(IMetricsSink inner) : IMetricsSink
{
    /// <summary>The first non-finite loss seen, or null.</summary>
    public (string Name, double Value)? FirstNonFinite { get; private set; }

    public void Log(long step, string name, double value)
    {
        if (FirstNonFinite is null && !double.IsFinite(value) && name.StartsWith("losses/", StringComparison.Ordinal)) FirstNonFinite = (name, value);
        inner.Log(step, name, value);
    }

    public void Flush(long step) => inner.Flush(step);

    public void Reset() => FirstNonFinite = null;
}
