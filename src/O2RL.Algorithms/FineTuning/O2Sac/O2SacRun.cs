using System.Globalization;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Envs;

namespace O2RL.Algorithms.FineTuning.O2Sac;

/// <summary>O2SAC fine-tuning runs (ALGORITHMS.md §3) and their baselines (<see cref="O2SacConfig.Mode"/>).</summary>
public static class O2SacRun
{
    /// <summary>Algorithm name (config folder, checkpoint file and metadata).</summary>
    public const string Algorithm = "o2sac";
    /// <summary>State after stage A in the run folder; a run whose folder holds it resumes with stage B.</summary>
    public const string StageAFile = "stage-a.safetensors";
    /// <summary>State after stage B; a run whose folder holds it resumes with stage C.</summary>
    public const string StageBFile = "stage-b.safetensors";

    /// <summary>The values <see cref="O2SacConfig.Mode"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Modes = ["ocr-cft", "naive", "scratch", "offline"];

    /// <summary>
    /// Fine-tunes the actor of <see cref="RunContext.InitialCheckpoint"/> (a CQL checkpoint) on
    /// <see cref="RunContext.EnvironmentId"/> with the dataset <see cref="RunContext.DatasetPath"/>: offline score,
    /// stage A, stage B, aligned score, reference choice, stage C (OffPolicyTrainer, π_ref replaced at evaluations).
    /// With an output folder it writes stage-a/stage-b state files (and resumes after the latest one it finds),
    /// config.json and o2sac.safetensors. Stage C (and the baselines' online loop) saves full-state checkpoints in the
    /// folder's checkpoints/; with <see cref="RunContext.ResumeCheckpoint"/> the run restores stages A and B from their
    /// files and continues stage C from that checkpoint, logging nothing twice. The baseline modes share the data,
    /// normalisation and evaluation.
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? datasetName = context.ResolveDatasetName();
        string? shipped = ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, datasetName);
        var config = ConfigLoader.Resolve(new O2SacConfig(), shipped, context.ConfigFile, context.Overrides);
        config.Validate();
        string mode = config.Mode.ToLowerInvariant();
        if (!Modes.Contains(mode)) throw new ArgumentException($"mode '{config.Mode}' is not one of {string.Join(", ", Modes)}");
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        var spec = EnvironmentRegistry.GetSpec(context.EnvironmentId);
        var backend = context.Backend;

        TanhGaussianActor? startingActor = null;
        StateNormalizer? checkpointNormalizer = null;
        var sourceFamily = ActorFamily.TanhGaussian;
        bool fromPyTorch = false;
        if (mode != "scratch")
        {
            if (context.InitialCheckpoint is null) throw new ArgumentException($"O2SAC mode '{mode}' needs the offline checkpoint (RunContext.InitialCheckpoint)");
            // One read of the file serves the actor, its normaliser and the description of the transfer.
            var starting = StartingActor.Load(context.InitialCheckpoint);
            (startingActor, checkpointNormalizer, sourceFamily) = (starting.ToTanhGaussian(backend, config.DeterministicSourceStd), starting.Normalizer, starting.Family);
            fromPyTorch = starting.FromPyTorch && starting.Normalizer is null;
            context.Progress?.WriteLine($"o2sac: {starting.DescribeTransfer(ActorFamily.TanhGaussian)}");
            if (startingActor.ObsDim != spec.ObservationDim || startingActor.ActionDim != spec.ActionDim)
                throw new ArgumentException($"checkpoint '{context.InitialCheckpoint}' has obs {startingActor.ObsDim} / action {startingActor.ActionDim} dimensions but {context.EnvironmentId} has {spec.ObservationDim} / {spec.ActionDim}");
        }
        // Where stage C's target entropy comes from (scratch: a fresh tanh-Gaussian); checked before any long work.
        var entropySource = EntropyTarget.Resolve(config.TargetEntropyRule, config.TargetEntropy, config.TargetEntropyMargin, sourceFamily);

        // §3.1: the Q-learning dataset, the reward map and the dataset's normalisation (checked against the checkpoint's).
        // A PyTorch state_dict keeps no normalisation: its states are normalised with the dataset's, in every mode
        // (--mode offline scored it on raw observations before), as CORL trains.
        bool needsData = mode == "ocr-cft" || (mode != "offline" && config.BufferMode != OfflineMixing.None)
            || (fromPyTorch && config.NormalizeStates && context.DatasetPath is not null);
        Transitions? transitions = null;
        StateNormalizer normalizer;
        if (needsData)
        {
            if (context.DatasetPath is null) throw new ArgumentException($"O2SAC mode '{mode}' with buffer mode {config.BufferMode} needs a dataset file (RunContext.DatasetPath)");
            transitions = context.ReadDataset().ToQLearning();
            if (config.RewardScale != 1f || config.RewardBias != 0f) transitions.TransformRewards(config.RewardScale, config.RewardBias);
            normalizer = config.NormalizeStates ? StateNormalizer.ForQLearning(transitions) : StateNormalizer.Identity(transitions.ObservationDim);
            if (checkpointNormalizer is not null) RequireSameNormalization(normalizer, checkpointNormalizer, context.InitialCheckpoint!, context.DatasetPath);
            normalizer.NormalizeInPlace(transitions);
        }
        else
        {
            normalizer = checkpointNormalizer ?? StateNormalizer.Identity(spec.ObservationDim);
        }
        if (fromPyTorch)
            context.Progress?.WriteLine(!config.NormalizeStates ? "o2sac: the starting file has no state normaliser (a PyTorch state_dict); normalize_states=false: raw observations"
                : transitions is not null ? "o2sac: the starting file has no state normaliser (a PyTorch state_dict): states normalised with the dataset's mean and std + 1e-3, as CORL trains"
                : "o2sac: the starting file has no state normaliser (a PyTorch state_dict) and no --dataset was given: raw observations; give the dataset it was trained on to normalise as CORL does");

        var scoreTask = context.ScoreTaskId ?? context.EnvironmentId;
        int evaluationSeed = context.Seed + 10_000;
        Evaluator NewEvaluator() => new(PolicyEnvironment.Make(context.EnvironmentId, normalizer), scoreTask, evaluationSeed);

        if (mode == "offline")
        {
            EvaluationResult offline;
            using (var evaluator = NewEvaluator())
                offline = evaluator.Evaluate(StartingPolicy(backend, startingActor!), config.EvalEpisodes);
            LogCurveStart(context.Metrics, offline);
            return new RunResult(offline, null, configJson);
        }
        if (mode is "naive" or "scratch")
            return RunBaseline(context, config, configJson, mode, startingActor, normalizer, transitions, NewEvaluator, entropySource);

        if (sourceFamily == ActorFamily.Deterministic) context.Progress?.WriteLine(ConvertedDeterministicNote(config));
        var learner = new O2SacLearner(backend, startingActor!, config, (ulong)context.Seed);
        // Resuming inside stage C: everything up to its start is already in the metrics (the step-0 rows included).
        bool resumingStageC = context.ResumeCheckpoint is not null;
        var (offlineScore, alignedScore) = ReconstructCritic(context, learner, transitions!, NewEvaluator, configJson, entropySource, logCurveStart: !resumingStageC, normalizer);

        // §3.5 / §1.6: the reference starts as the aligned actor only if it scored strictly better than π_off
        // (initial_reference = aligned: always; initial_reference_tolerance: also when less than that fraction worse).
        string task = (context.ScoreTaskId ?? $"{context.EnvironmentId}-{datasetName}").ToLowerInvariant();
        int updateN = config.UpdateN;
        if (!config.ReferToOptimalPolicy && task.Contains("hopper", StringComparison.Ordinal) && task.Contains("expert", StringComparison.Ordinal))
        {
            // The release's special case of the periodic-reference ablation on the hopper "expert" tasks.
            updateN = 10;
            learner.Sac.ActorOptimizer.MaxGradientNorm = 0.25f;
        }
        var tracker = new ReferencePolicyTracker(config.ReferToOptimalPolicy ? ReferenceRule.BestSoFar : ReferenceRule.EveryN, updateN, config.EvalEvery);
        bool alignedIsReference = tracker.ChooseInitial(offlineScore, alignedScore, config.InitialReference == O2SacConfig.InitialReferenceAligned,
            config.InitialReferenceTolerance);
        if (alignedIsReference) learner.ReplaceReference();
        if (!(alignedScore >= offlineScore)) context.Progress?.WriteLine(AlignedBelowOfflineNote(offlineScore, alignedScore, alignedIsReference));
        if (!resumingStageC)
        {
            context.Metrics.Log(0, "charts/reference_replaced", alignedIsReference ? 1 : 0);
            context.Metrics.Flush(0);
        }

        var agent = new O2SacAgent(learner) { Tracker = tracker };
        EvaluationResult? last;
        using (var environment = PolicyEnvironment.Make(context.EnvironmentId, normalizer))
        using (var evaluator = NewEvaluator())
        using (var sampler = OnlineSampler(backend, config, transitions, spec, context.Seed))
        {
            var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler,
                LoopOptions(config, context.Seed, randomWarmup: false), context.Metrics, context.Progress)
            {
                OnEvaluation = (step, result) =>
                {
                    // π_ref ← deep copy of π_θ when the rule says so (best so far, or every update_n evaluations).
                    bool replace = tracker.ShouldReplace(step, result.Score);
                    if (replace) learner.ReplaceReference();
                    context.Metrics.Log(step, "charts/reference_replaced", replace ? 1 : 0);
                },
                Checkpoints = TrainingCheckpoints.For(context, agent, Algorithm, config.EvalEvery, SavePolicy),
                Cancellation = context.Cancellation,
            };
            last = trainer.Run();
            last ??= evaluator.Evaluate(agent.Policy, config.EvalEpisodes);
        }

        return new RunResult(last, context.SaveFinalPolicy(Algorithm, SavePolicy), configJson);

        void SavePolicy(string path)
        {
            var extra = learner.ReferenceActor.Parameters.ToNamedTensors("actor_reference")
                .Append(new NamedTensor("log_lambda", [1], learner.Lambda.LogLambda.ToArray()));
            SacCheckpoint.Save(path, learner.Sac, Algorithm, context.EnvironmentId, normalizer, configJson, extra);
        }
    }

    /// <summary>
    /// The one place the starting actor is loaded: a tanh-Gaussian actor (hidden widths from the checkpoint) and the
    /// observation normalisation saved beside it (null when the file has none). A CQL checkpoint (the paper's pairing)
    /// is copied directly; any other family goes through <see cref="StartingActor"/>'s conversion (our own design).
    /// </summary>
    public static (TanhGaussianActor Actor, StateNormalizer? Normalizer) LoadStartingActor(string path, Backend backend, float initialStd = 0.1f)
    {
        var starting = StartingActor.Load(path);
        return (starting.ToTanhGaussian(backend, initialStd), starting.Normalizer);
    }

    /// <summary>
    /// Optimistic critic reconstruction: offline score, stage A, stage B, aligned score, with the stage files written
    /// to (and resumed from) the run folder. Returns the offline and aligned scores.
    /// </summary>
    static (double Offline, double Aligned) ReconstructCritic(RunContext context, O2SacLearner learner, Transitions transitions,
        Func<Evaluator> newEvaluator, string configJson, EntropyTargetSource entropySource, bool logCurveStart, StateNormalizer normalizer)
    {
        var config = learner.Config;
        var metrics = context.Metrics;
        string? stageA = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, StageAFile);
        string? stageB = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, StageBFile);
        var offlineRandom = new DeviceRandom((ulong)context.Seed * 7 + 3);
        var scores = new Dictionary<string, double>();
        var offlinePolicy = new DevicePolicy(context.Backend, learner.Sac.ObsDim, learner.Sac.ActionDim, learner.OfflineAct);

        if (stageB is not null && File.Exists(stageB))
        {
            LoadStage(stageB, learner, offlineRandom, scores);
            context.Progress?.WriteLine($"o2sac: resumed after stage B from {StageBFile}");
        }
        else
        {
            if (stageA is not null && File.Exists(stageA))
            {
                LoadStage(stageA, learner, offlineRandom, scores);
                context.Progress?.WriteLine($"o2sac: resumed after stage A from {StageAFile}");
            }
            else
            {
                // The offline score is measured before anything else (§6.4).
                using (var evaluator = newEvaluator()) Record(scores, "offline", evaluator.Evaluate(offlinePolicy, config.EvalEpisodes));
                using var sampler = OfflineSampler(context.Backend, config, transitions, offlineRandom);
                RunStage(context, "stage-a", config.ReevaluationSteps, config.LogEvery, () => learner.PolicyEvaluationStep(sampler.Sample()),
                    step => metrics.Log(step, "stage/a_qf_loss", context.Backend.ReadScalar(learner.Sac.CriticLoss)));
                if (stageA is not null) SaveStage(stageA, "a", learner, offlineRandom, scores, context.EnvironmentId, configJson, normalizer);
            }
            learner.BeginAlignment();
            using (var sampler = OfflineSampler(context.Backend, config, transitions, offlineRandom))
            {
                RunStage(context, "stage-b", config.AlignmentSteps, config.LogEvery, () => learner.ValueAlignmentStep(sampler.Sample().Observations), step =>
                {
                    metrics.Log(step, "stage/b_qf_loss", context.Backend.ReadScalar(learner.AlignmentLoss));
                    metrics.Log(step, "stage/b_actor_loss", context.Backend.ReadScalar(learner.Sac.ActorLoss));
                });
            }
            learner.FinishAlignment();
            using (var evaluator = newEvaluator()) Record(scores, "aligned", evaluator.Evaluate(new O2SacAgent(learner).Policy, config.EvalEpisodes));
            if (stageB is not null) SaveStage(stageB, "b", learner, offlineRandom, scores, context.EnvironmentId, configJson, normalizer);
        }

        // H̄ for stage C from the aligned policy's entropy (measured again after a resume: it depends only on the actor,
        // the dataset and the seed, and moves no training stream).
        double policyEntropy = EntropyTarget.MeasurePolicyEntropy(context.Backend, learner.Sac.Actor, transitions, (ulong)context.Seed * 7 + 11, EntropyMeasurementSlot);
        learner.Sac.TargetEntropy = EntropyTarget.Target(entropySource, config.TargetEntropy, learner.Sac.ActionDim, policyEntropy, config.TargetEntropyMargin);

        // The learning curve starts with the offline score at step 0 (§8); the score metrics are raw returns, with
        // the aligned actor's normalised score beside them when the task has reference scores.
        if (logCurveStart)
        {
            metrics.Log(0, "eval/return", scores["offline_return"]);
            if (scores.TryGetValue("offline_normalized", out double normalized)) metrics.Log(0, "eval/normalized_return", normalized);
            metrics.Log(0, FineTuneTable.OfflineScore, scores["offline_return"]);
            metrics.Log(0, FineTuneTable.AlignedScore, scores["aligned_return"]);
            metrics.Log(0, "charts/target_entropy", learner.Sac.TargetEntropy);
            metrics.Log(0, "charts/policy_entropy", policyEntropy);
            if (scores.TryGetValue("aligned_normalized", out double alignedNormalized)) metrics.Log(0, FineTuneTable.AlignedNormalizedScore, alignedNormalized);
            metrics.Flush(0);
        }
        context.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"o2sac: offline score {scores["offline_score"]:F2}, aligned score {scores["aligned_score"]:F2}"));
        context.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"o2sac: aligned policy entropy {policyEntropy:F2}, target entropy {learner.Sac.TargetEntropy:F2} ({Describe(entropySource, learner.Sac.ActionDim, config.TargetEntropyMargin)})"));
        return (scores["offline_score"], scores["aligned_score"]);
    }

    /// <summary>
    /// What a run whose aligned actor scores under the offline one should know: stage C starts from the aligned actor
    /// with π_off kept as π_ref (§1.6), so its first evaluations measure the aligned actor, not the one it was given.
    /// With initial_reference = aligned, or within initial_reference_tolerance, the aligned actor is π_ref all the same,
    /// and the note says so.
    /// </summary>
    internal static string AlignedBelowOfflineNote(double offlineScore, double alignedScore, bool alignedIsReference = false) =>
        string.Create(CultureInfo.InvariantCulture,
            $"o2sac: the aligned actor scores under the offline one ({alignedScore:F2} < {offlineScore:F2}): ") +
        (alignedIsReference
            ? "it is π_ref all the same (initial_reference, initial_reference_tolerance), and stage C starts from it"
            : "π_off stays π_ref and stage C starts from the aligned actor");

    /// <summary>
    /// Printed before stage A when O2SAC starts from a converted deterministic actor (TD3+BC's). The paper's release never
    /// pairs one with O2SAC, so its defaults were not made for it; the line says what they did on our sets and where the
    /// evidence is, and suggests the setting that held HalfCheetah medium-replay there, with what it cost on Hopper medium,
    /// unless the run already uses it.
    /// </summary>
    internal static string ConvertedDeterministicNote(O2SacConfig config)
    {
        const string evidence = "benchmarks/results/ocr-cft/converted-deterministic-o2sac.md";
        string note = "o2sac: the paper's release never starts O2SAC from a deterministic actor; with the defaults, stage B lowered " +
            $"such actors on our MuJoCo sets and HalfCheetah medium-replay collapsed ({evidence})";
        bool usesSuggestion = config.Alpha == SuggestedConvertedAlpha && config.ReferenceLogDensity == O2SacConfig.ReferenceAtPreImage
            && (config.InitialReferenceTolerance > 0f || config.InitialReference == O2SacConfig.InitialReferenceAligned);
        return usesSuggestion ? note : note + ". " + ConvertedDeterministicSuggestion;
    }

    /// <summary>α_A of the setting suggested for converted deterministic actors.</summary>
    const float SuggestedConvertedAlpha = 0.001f;

    /// <summary>The suggestion of <see cref="ConvertedDeterministicNote"/> and what it did over 10k online steps (3 seeds per task).</summary>
    internal const string ConvertedDeterministicSuggestion =
        "--set alpha=0.001 --set reference_log_density=pre-image --set initial_reference_tolerance=0.1 " +
        "held HalfCheetah medium-replay over 10k online steps and matched the defaults on Walker2d medium-replay, " +
        "but ended under them on Hopper medium; " +
        "O2TD3 is the paper's pairing for this actor";

    /// <summary>The naive and scratch baselines: plain SAC online (UTD, warm-up and buffer mode of the config).</summary>
    static RunResult RunBaseline(RunContext context, O2SacConfig config, string configJson, string mode, TanhGaussianActor? startingActor,
        StateNormalizer normalizer, Transitions? transitions, Func<Evaluator> newEvaluator, EntropyTargetSource entropySource)
    {
        var spec = EnvironmentRegistry.GetSpec(context.EnvironmentId);
        // Naive fine-tuning continues plain SAC with the offline critics too: when the checkpoint holds twin critics in
        // our layout (CQL, SAC), the online critics take their architecture so that they can be loaded.
        var (criticHidden, criticLayerNorm) = (config.CriticHidden, config.CriticLayerNorm);
        if (mode == "naive" && context.InitialCheckpoint is string startPath)
        {
            if (SacCheckpoint.TwinCriticArchitecture(SafetensorsFile.Read(startPath, rejectNonFinite: true), startPath) is var (hidden, layerNorm))
                (criticHidden, criticLayerNorm) = (hidden, layerNorm);
        }
        var sacConfig = new SacConfig
        {
            BatchSize = config.BatchSize, Gamma = config.Gamma, Tau = config.Tau,
            ActorLr = config.ActorLr, CriticLr = config.CriticLr, AlphaLr = config.AlphaLr,
            Alpha = config.Alpha, AutoAlpha = config.AutoAlpha, TargetEntropy = config.TargetEntropy,
            ActorHidden = startingActor?.Network.Spec.HiddenDims ?? TanhGaussianActor.DefaultHidden,
            CriticHidden = criticHidden, CriticLayerNorm = criticLayerNorm,
            UpdatesPerStep = config.UpdatesPerStep, WarmupSteps = config.WarmupSteps, TotalSteps = config.OnlineSteps,
            ReplayCapacity = config.ReplayCapacity, EvalEvery = config.EvalEvery, EvalEpisodes = config.EvalEpisodes, LogEvery = config.LogEvery,
        };
        var agent = new SacAgent(context.Backend, spec.ObservationDim, spec.ActionDim, sacConfig, (ulong)context.Seed);
        if (startingActor is not null)
        {
            agent.Learner.Actor.Parameters.CopyValuesFrom(startingActor.Parameters);
            bool criticsLoaded = TryLoadCritics(agent.Learner, context.InitialCheckpoint!);
            // The same H̄ rule as O2SAC, on the loaded actor (measured before any update, so a resumed run measures the same).
            if (entropySource == EntropyTargetSource.Policy)
            {
                double policyEntropy = transitions is null
                    ? throw new ArgumentException("target_entropy_rule 'policy' measures the policy on dataset states, but this run has no dataset (buffer mode none); set target_entropy or target_entropy_rule=action-dim")
                    : EntropyTarget.MeasurePolicyEntropy(context.Backend, agent.Learner.Actor, transitions, (ulong)context.Seed * 7 + 11, EntropyMeasurementSlot);
                agent.Learner.TargetEntropy = EntropyTarget.Target(entropySource, config.TargetEntropy, spec.ActionDim, policyEntropy, config.TargetEntropyMargin);
            }
            context.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"o2sac {mode}: target entropy {agent.Learner.TargetEntropy:F2} ({Describe(entropySource, spec.ActionDim, config.TargetEntropyMargin)})"));
            context.Progress?.WriteLine($"o2sac naive: offline actor loaded, {(criticsLoaded ? "offline critics loaded" : "fresh critics (the checkpoint's differ in architecture)")}");
            // A resumed run logged the curve's start before its checkpoint; the online loop restores the rest.
            if (context.ResumeCheckpoint is null)
            {
                using var evaluator = newEvaluator();
                var offline = evaluator.Evaluate(agent.Policy, config.EvalEpisodes);
                context.Metrics.Log(0, "charts/target_entropy", agent.Learner.TargetEntropy);
                LogCurveStart(context.Metrics, offline);
            }
        }
        EvaluationResult? last;
        using (var environment = PolicyEnvironment.Make(context.EnvironmentId, normalizer))
        using (var evaluator = newEvaluator())
        using (var sampler = OnlineSampler(context.Backend, config, transitions, spec, context.Seed))
        {
            var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler,
                LoopOptions(config, context.Seed, randomWarmup: mode == "scratch"), context.Metrics, context.Progress)
            {
                // The mode is part of the name: a naive run's state never continues a scratch run (or stage C).
                Checkpoints = TrainingCheckpoints.For(context, agent, $"{Algorithm}-{mode}", config.EvalEvery, SavePolicy),
                Cancellation = context.Cancellation,
            };
            last = trainer.Run();
            last ??= evaluator.Evaluate(agent.Policy, config.EvalEpisodes);
        }
        return new RunResult(last, context.SaveFinalPolicy(Algorithm, SavePolicy), configJson);

        void SavePolicy(string path) => SacCheckpoint.Save(path, agent.Learner, Algorithm, context.EnvironmentId, normalizer, configJson);
    }

    /// <summary>Loads critics and targets when the checkpoint's match the configured architecture; false leaves the fresh ones.</summary>
    static bool TryLoadCritics(SoftActorCritic learner, string path)
    {
        var checkpoint = SafetensorsFile.Read(path, rejectNonFinite: true);
        bool compatible = checkpoint.Tensors.Keys.Any(k => k.StartsWith("critic.network.", StringComparison.Ordinal))
            && SacCheckpoint.CriticHidden(checkpoint, path).SequenceEqual(learner.Options.CriticHidden)
            && SacCheckpoint.CriticLayerNorm(checkpoint) == learner.Options.CriticLayerNorm
            && checkpoint.Tensors.Values.First(t => t.Name.StartsWith("critic.network.", StringComparison.Ordinal)).Shape[0] == learner.Critic.Members;
        if (!compatible) return false;
        learner.Critic.Parameters.LoadFrom(checkpoint, "critic");
        if (checkpoint.Tensors.Keys.Any(k => k.StartsWith("critic_target.", StringComparison.Ordinal))) learner.TargetCritic.Parameters.LoadFrom(checkpoint, "critic_target");
        else learner.TargetCritic.Parameters.CopyValuesFrom(learner.Critic.Parameters);
        return true;
    }

    /// <summary>Actor slot of the entropy measurement (its own buffers; the training slots are untouched).</summary>
    const int EntropyMeasurementSlot = 5;

    static string Describe(EntropyTargetSource source, int actionDim, float margin) => source switch
    {
        EntropyTargetSource.ActionDim => $"−d = −{actionDim}",
        EntropyTargetSource.Configured => "target_entropy",
        _ => string.Create(CultureInfo.InvariantCulture, $"the policy's entropy on dataset states − {margin}·d, target_entropy_rule"),
    };

    static void RunStage(RunContext context, string label, long steps, int logEvery, Action step, Action<long> log)
    {
        var progress = new ProgressReporter(context.Progress, label, steps);
        var clock = new System.Diagnostics.Stopwatch();
        var total = System.Diagnostics.Stopwatch.StartNew();
        long timed = 0;
        for (long n = 1; n <= steps; n++)
        {
            // Ctrl+C stops a stage between two steps; the run resumes after the last finished stage.
            context.Cancellation.ThrowIfCancellationRequested();
            clock.Start();
            step();
            clock.Stop();
            timed++;
            if (logEvery > 0 && (n % logEvery == 0 || n == steps))
            {
                log(n);
                context.Metrics.Log(n, $"time/{label.Replace('-', '_')}_update", clock.Elapsed.TotalMilliseconds / timed);
                context.Metrics.Flush(n);
                clock.Reset(); timed = 0;
            }
            progress.Report(n);
        }
        if (steps > 0) context.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"o2sac: {label} ({steps} steps) took {total.Elapsed.TotalSeconds:F1} s"));
    }

    static MixedReplaySampler OfflineSampler(Backend backend, O2SacConfig config, Transitions transitions, DeviceRandom random) =>
        // Uniform minibatches over the whole dataset, with replacement.
        new(backend, OfflineMixing.All, transitions, transitions.ObservationDim, transitions.ActionDim, transitions.Count, config.BatchSize, random);

    static MixedReplaySampler OnlineSampler(Backend backend, O2SacConfig config, Transitions? transitions, EnvironmentSpec spec, int seed)
    {
        var mode = transitions is null ? OfflineMixing.None : config.BufferMode;
        long copied = mode is OfflineMixing.All or OfflineMixing.Part ? transitions!.Count : 0;
        int capacity = (int)Math.Min(config.ReplayCapacity, Math.Max(copied + config.OnlineSteps, config.BatchSize + 1));
        return new MixedReplaySampler(backend, mode, mode == OfflineMixing.None ? null : transitions, spec.ObservationDim, spec.ActionDim,
            capacity, config.BatchSize, new DeviceRandom((ulong)seed * 7 + 5));
    }

    static OffPolicyLoopOptions LoopOptions(O2SacConfig config, int seed, bool randomWarmup)
    {
        float scale = config.RewardScale, bias = config.RewardBias;
        return new OffPolicyLoopOptions
        {
            TotalSteps = config.OnlineSteps,
            WarmupSteps = config.WarmupSteps,
            RandomWarmup = randomWarmup,
            UpdatesPerStep = config.UpdatesPerStep,
            EvaluateEvery = config.EvalEvery,
            EvaluationEpisodes = config.EvalEpisodes,
            LogEvery = config.LogEvery,
            Seed = seed,
            SharedEvaluationEnvironment = config.SharedEvalEnv,
            // The offline reward map applies to every online reward too (§3.1, pitfall 19).
            RewardTransform = scale == 1f && bias == 0f ? null : r => scale * r + bias,
        };
    }

    static IPolicy StartingPolicy(Backend backend, TanhGaussianActor actor) =>
        new DevicePolicy(backend, actor.ObsDim, actor.ActionDim, (obs, _) => actor.DeterministicAction(obs, 7));

    static void LogCurveStart(IMetricsSink metrics, EvaluationResult offline)
    {
        metrics.Log(0, "eval/return", offline.MeanReturn);
        if (offline.NormalizedMean is double normalized) metrics.Log(0, "eval/normalized_return", normalized);
        metrics.Log(0, FineTuneTable.OfflineScore, offline.MeanReturn);
        metrics.Flush(0);
    }

    static void Record(Dictionary<string, double> scores, string name, EvaluationResult result)
    {
        scores[name + "_score"] = result.Score;
        scores[name + "_return"] = result.MeanReturn;
        if (result.NormalizedMean is double normalized) scores[name + "_normalized"] = normalized;
    }

    static void RequireSameNormalization(StateNormalizer dataset, StateNormalizer checkpoint, string checkpointPath, string datasetPath)
    {
        for (int j = 0; j < dataset.Dimension; j++)
        {
            bool close(float a, float b) => Math.Abs(a - b) <= 1e-4f * Math.Max(1f, Math.Abs(a));
            if (!close(dataset.Mean[j], checkpoint.Mean[j]) || !close(dataset.Std[j], checkpoint.Std[j]))
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"the observation normalisation of '{checkpointPath}' differs from the one of '{datasetPath}' (§3.1 rule) at feature {j}: mean {checkpoint.Mean[j]} vs {dataset.Mean[j]}, std {checkpoint.Std[j]} vs {dataset.Std[j]}; the offline actor was trained on other data or with other normalisation flags"));
        }
    }

    /// <summary>
    /// Writes a stage's full state; with the policy facts of the run's policy files (dimensions, observation
    /// normalisation, action box), so the stage's actor (after stage B: the aligned policy) is also a policy for
    /// <c>o2rl eval</c> / <c>act</c>.
    /// </summary>
    static void SaveStage(string path, string stage, O2SacLearner learner, DeviceRandom offlineRandom, Dictionary<string, double> scores,
        string environmentId, string configJson, StateNormalizer normalizer)
    {
        var metadata = learner.StateMetadata();
        metadata["algorithm"] = Algorithm;
        metadata["stage"] = stage;
        SacCheckpoint.AddPolicyFacts(metadata, learner.Sac, normalizer, environmentId);
        metadata["config"] = configJson;
        metadata["rng.offline"] = offlineRandom.Counter.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in scores) metadata["score." + name] = value.ToString("R", CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // Write beside and rename, so an interrupted save never leaves a half stage file that a resume would trust.
        string temporary = path + ".tmp";
        SafetensorsFile.Write(temporary, [.. learner.StateTensors()], metadata);
        File.Move(temporary, path, overwrite: true);
    }

    static void LoadStage(string path, O2SacLearner learner, DeviceRandom offlineRandom, Dictionary<string, double> scores)
    {
        var checkpoint = SafetensorsFile.Read(path, rejectNonFinite: true);
        learner.LoadState(checkpoint, path);
        offlineRandom.Counter = (ulong)O2SacLearner.LongMetadata(checkpoint, "rng.offline", path);
        foreach (var (key, text) in checkpoint.Metadata)
            if (key.StartsWith("score.", StringComparison.Ordinal))
                scores[key["score.".Length..]] = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
