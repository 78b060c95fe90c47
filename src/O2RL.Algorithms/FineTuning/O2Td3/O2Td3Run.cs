using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.FineTuning.O2Td3;

/// <summary>The actor fine-tuning starts from, the state normalisation it was trained with, and how it got here.</summary>
/// <param name="Actor">μ_off as a deterministic tanh actor (hidden widths as stored).</param>
/// <param name="Normalizer">The offline learner's state normaliser; null when the file has none.</param>
/// <param name="Transfer">One line on how the stored actor became a deterministic one (a direct copy for TD3+BC).</param>
/// <param name="RecordsNormalization">True for our own checkpoints, which store their constants whenever the run
/// normalised states (so a missing normaliser means raw states); false for a PyTorch state_dict, which never does.</param>
public sealed record O2Td3StartingActor(DeterministicActor Actor, StateNormalizer? Normalizer, string Transfer, bool RecordsNormalization = true);

/// <summary>
/// O2TD3 runs (ALGORITHMS.md §4): the TD3+BC actor is evaluated (the offline score, step 0 of the curve), then
/// stage A (critic re-evaluation), stage B (alignment) and stage C (constrained TD3 online) run, each stage's state
/// saved in the run folder as <c>stage-a.safetensors</c> / <c>stage-b.safetensors</c>; a folder already holding a
/// stage file resumes after that stage. Stage C saves full-state checkpoints in the folder's checkpoints/, and
/// <see cref="RunContext.ResumeCheckpoint"/> continues it from one (after restoring stage B's file). The baselines
/// (<see cref="O2Td3Config.Mode"/>) run in the same harness and resume the same way.
/// </summary>
public static class O2Td3Run
{
    /// <summary>Algorithm name in configs, checkpoints and file names.</summary>
    public const string AlgorithmName = "o2td3";

    /// <summary>
    /// The one place the starting actor is loaded: any actor checkpoint <see cref="StartingActor"/> recognises becomes a
    /// deterministic actor (TD3+BC, the paper's pairing, is a direct weight copy; other families are converted by our
    /// own rule keeping the deterministic action), with its state normaliser; hidden widths follow the file.
    /// </summary>
    public static O2Td3StartingActor LoadStartingActor(string checkpointPath, Backend backend)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentNullException.ThrowIfNull(backend);
        var source = StartingActor.Load(checkpointPath);
        return new O2Td3StartingActor(source.ToDeterministic(backend), source.Normalizer, source.DescribeTransfer(ActorFamily.Deterministic),
            RecordsNormalization: !source.FromPyTorch);
    }

    /// <summary>Resolves the config (shipped file <c>configs/o2td3/&lt;env&gt;/&lt;dataset&gt;.yaml</c>), runs the configured mode, saves.</summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? datasetName = context.ResolveDatasetName();
        string task = context.ScoreTaskId ?? (datasetName is null ? context.EnvironmentId : $"{context.EnvironmentId}-{datasetName}");
        var config = ConfigLoader.Resolve(new O2Td3Config(),
            ConfigLoader.ShippedConfigPath(AlgorithmName, context.EnvironmentId, datasetName), context.ConfigFile, context.Overrides).ForTask(task);
        config.Validate();
        string configJson = ConfigLoader.ToJson(config);
        var backend = context.Backend;
        ulong seed = (ulong)(uint)context.Seed;

        if (config.Mode != O2Td3Config.ScratchMode && context.InitialCheckpoint is null)
            throw new ArgumentException($"O2TD3 mode '{config.Mode}' starts from an offline (TD3+BC) checkpoint; none was given");
        var starting = context.InitialCheckpoint is null ? null : LoadStartingActor(context.InitialCheckpoint, backend);
        if (starting is not null) context.Progress?.WriteLine($"o2td3: starting actor: {starting.Transfer}");

        Transitions? offline = null;
        if (context.DatasetPath is not null)
        {
            offline = context.ReadDataset().ToQLearning();
            if (offline.Count == 0) throw new ArgumentException($"dataset '{context.DatasetPath}' has no usable transitions after dropping time-limit ends");
            if (config.RewardScale != 1f || config.RewardShift != 0f) offline.TransformRewards(config.RewardScale, config.RewardShift);
        }
        // The offline learner's constants normalise every state (pitfall 18). Our checkpoints carry them (or were trained
        // on raw states); a run without a checkpoint, or from a PyTorch state_dict (CORL's TD3+BC normalises with the
        // dataset's mean and std + 1e-3 but does not save them), takes them from the dataset.
        bool checkpointDecides = starting is not null && (starting.Normalizer is not null || starting.RecordsNormalization);
        var normalizer = checkpointDecides ? starting!.Normalizer
            : config.NormalizeStates && offline is not null ? StateNormalizer.ForQLearning(offline) : null;
        if (starting is not null && !checkpointDecides)
            context.Progress?.WriteLine(normalizer is not null
                ? "o2td3: the starting file has no state normaliser (a PyTorch state_dict): states normalised with the dataset's mean and std + 1e-3, as TD3+BC trains"
                : "o2td3: the starting file has no state normaliser and there is no dataset (or normalize_states=false): raw states");
        if (offline is not null) normalizer?.NormalizeInPlace(offline);

        using var environment = PolicyEnvironment.Make(context.EnvironmentId, normalizer);
        using var evaluator = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer), context.ScoreTaskId ?? context.EnvironmentId,
            Envs.EnvRandom.DeriveSeed(context.Seed, 1_000_003));
        int obsDim = environment.ObservationSpace.Dimension, actionDim = environment.ActionSpace.Dimension;
        if (starting is not null && (starting.Actor.ObsDim != obsDim || starting.Actor.ActionDim != actionDim))
            throw new ArgumentException($"checkpoint '{context.InitialCheckpoint}' is for obs {starting.Actor.ObsDim} / act {starting.Actor.ActionDim} but {context.EnvironmentId} has {obsDim} / {actionDim}");
        if (offline is not null && (offline.ObservationDim != obsDim || offline.ActionDim != actionDim))
            throw new ArgumentException($"dataset '{context.DatasetPath}' has obs {offline.ObservationDim} / act {offline.ActionDim} but {context.EnvironmentId} has {obsDim} / {actionDim}");
        if (config.Mode == O2Td3Config.OcrCftMode && offline is null)
            throw new ArgumentException("O2TD3 stages A and B train on the offline dataset; none was given");
        if (config.Mode != O2Td3Config.OfflineMode && config.BufferMode != OfflineMixing.None && offline is null)
            throw new ArgumentException($"buffer_mode {config.BufferMode} mixes offline data into fine-tuning; no dataset was given");

        context.RecordConfig(configJson);
        var harness = new Harness(context, config, configJson, seed, normalizer, offline, environment, evaluator);
        return config.Mode switch
        {
            O2Td3Config.OfflineMode => harness.EvaluateOnly(starting!),
            O2Td3Config.NaiveMode or O2Td3Config.ScratchMode => harness.PlainTd3(starting),
            _ => harness.OcrCft(starting!),
        };
    }

    sealed class Harness(RunContext context, O2Td3Config config, string configJson, ulong seed, StateNormalizer? normalizer, Transitions? offline,
        Envs.IEnvironment environment, Evaluator evaluator)
    {
        Backend Backend => context.Backend;

        public RunResult EvaluateOnly(O2Td3StartingActor starting)
        {
            var policy = new O2Td3ActingPolicy(starting.Actor, 0f, new DeviceRandom(Seeds.Derive(seed, 4)));
            var result = evaluator.Evaluate(policy, config.EvaluationEpisodes);
            LogEvaluation(0, result);
            context.Metrics.Log(0, FineTuneTable.OfflineScore, result.MeanReturn);
            context.Metrics.Flush(0);
            return new RunResult(result, null, configJson);
        }

        /// <summary>Stages A, B, C with stage files and resume.</summary>
        public RunResult OcrCft(O2Td3StartingActor starting)
        {
            var agent = new O2Td3Agent(Backend, starting.Actor, config, seed);
            using var offlineSampler = UniformReplaySampler.OverTransitions(Backend, offline!, config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 5)));
            string? stageA = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, O2Td3StageFile.FileName('a'));
            string? stageB = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, O2Td3StageFile.FileName('b'));

            O2Td3Score offlineScore, alignedScore;
            if (stageB is not null && File.Exists(stageB))
            {
                var progress = O2Td3StageFile.Load(stageB, agent);
                offlineScore = progress.OfflineScore;
                alignedScore = progress.AlignedScore ?? throw new InvalidDataException($"stage file '{stageB}' has no aligned score");
                context.Progress?.WriteLine($"o2td3: resuming after stage B from {stageB}");
            }
            else
            {
                if (stageA is not null && File.Exists(stageA))
                {
                    var progress = O2Td3StageFile.Load(stageA, agent);
                    offlineScore = progress.OfflineScore;
                    offlineSampler.Random.Counter = progress.OfflineSamplerCounter;
                    context.Progress?.WriteLine($"o2td3: resuming after stage A from {stageA}");
                }
                else
                {
                    // The loaded actor's score before anything else: the first point of the curve and the baseline of §1.6.
                    offlineScore = EvaluateAfresh(agent.ActingPolicy);
                    RunStageA(agent, offlineSampler);
                    if (stageA is not null)
                        O2Td3StageFile.Save(stageA, agent, new O2Td3StageProgress("a", offlineScore, null, offlineSampler.Random.Counter), configJson, normalizer, context.EnvironmentId);
                }
                RunStageB(agent, offlineSampler);
                agent.FinishAlignment();
                alignedScore = EvaluateAfresh(agent.ActingPolicy);
                if (stageB is not null)
                    O2Td3StageFile.Save(stageB, agent, new O2Td3StageProgress("b", offlineScore, alignedScore, offlineSampler.Random.Counter), configJson, normalizer, context.EnvironmentId);
            }
            // §1.6: π_ref ← the aligned actor only when strictly better than μ_off.
            var tracker = new ReferencePolicyTracker(config.ReferWithOptimalPi ? ReferenceRule.BestSoFar : ReferenceRule.EveryN, config.UpdateEvery, config.EvaluateEvery);
            bool alignedIsReference = tracker.ChooseInitial(offlineScore.Score, alignedScore.Score);
            if (alignedIsReference) agent.ReplaceReferenceWithActor();
            else agent.ResetReferenceToOffline();
            // The curve starts with the offline actor's score (§8), also when resuming from a stage file; a run resumed
            // inside stage C logged it before its checkpoint.
            if (context.ResumeCheckpoint is null)
            {
                // Raw returns under the table's names, and the aligned score normalised beside it where the task has
                // reference scores (the table reads the normalised one then).
                context.Metrics.Log(0, FineTuneTable.OfflineScore, offlineScore.MeanReturn);
                context.Metrics.Log(0, FineTuneTable.AlignedScore, alignedScore.MeanReturn);
                if (alignedScore.NormalizedMean is double alignedNormalized) context.Metrics.Log(0, FineTuneTable.AlignedNormalizedScore, alignedNormalized);
                LogEvaluation(0, offlineScore);
                context.Metrics.Log(0, "charts/reference_replaced", alignedIsReference ? 1 : 0);
                context.Metrics.Flush(0);
            }
            context.Progress?.WriteLine($"o2td3: offline score {offlineScore.Score:F2}, aligned score {alignedScore.Score:F2}");

            agent.BeginOnline();
            agent.Tracker = tracker;

            using var sampler = new MixedReplaySampler(Backend, config.BufferMode, offline, agent.Networks.ObsDim, agent.Networks.ActionDim, config.BufferSize,
                config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 7)));
            var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler, LoopOptions(randomWarmup: false), context.Metrics, context.Progress)
            {
                OnEvaluation = (step, result) =>
                {
                    bool replace = tracker.ShouldReplace(step, result.Score);
                    // A deep copy: the reference never aliases the actor and never receives optimiser updates.
                    if (replace) agent.ReplaceReferenceWithActor();
                    context.Metrics.Log(step, "charts/reference_replaced", replace ? 1 : 0);
                },
                Checkpoints = TrainingCheckpoints.For(context, agent, AlgorithmName, config.EvaluateEvery, path => SavePolicy(path, agent.Networks)),
                Cancellation = context.Cancellation,
            };
            var last = Finish(trainer, agent.Policy, trainer.Run());
            return new RunResult(last, SaveFinal(agent.Networks), configJson);
        }

        // The offline and aligned scores each come from a fresh evaluator with the stage-C evaluator's seed: both see the
        // same initial states (a fair §1.6 comparison), and stage C evaluates identically whether or not the run resumed.
        O2Td3Score EvaluateAfresh(IPolicy policy)
        {
            using var fresh = new Evaluator(PolicyEnvironment.Make(context.EnvironmentId, normalizer), context.ScoreTaskId ?? context.EnvironmentId, evaluator.Seed);
            return O2Td3Score.Of(fresh.Evaluate(policy, config.EvaluationEpisodes));
        }

        void RunStageA(O2Td3Agent agent, UniformReplaySampler sampler)
        {
            var progress = new ProgressReporter(context.Progress, "o2td3 stage A (re-evaluation)", config.ReevaluationSteps);
            for (long step = 1; step <= config.ReevaluationSteps; step++)
            {
                // Ctrl+C stops a stage between two steps; the run resumes after the last finished stage.
                context.Cancellation.ThrowIfCancellationRequested();
                agent.EvaluationStep(sampler.Sample());
                if (config.LogEvery > 0 && (step % config.LogEvery == 0 || step == config.ReevaluationSteps))
                {
                    context.Metrics.Log(step, "stage/a_qf_loss", Backend.ReadScalar(agent.Operators.CriticLoss));
                    context.Metrics.Flush(step);
                }
                progress.Report(step);
            }
        }

        void RunStageB(O2Td3Agent agent, UniformReplaySampler sampler)
        {
            var progress = new ProgressReporter(context.Progress, "o2td3 stage B (alignment)", config.AlignmentSteps);
            for (long step = 1; step <= config.AlignmentSteps; step++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                agent.AlignmentStep(sampler.Sample());
                if (config.LogEvery > 0 && (step % config.LogEvery == 0 || step == config.AlignmentSteps))
                {
                    context.Metrics.Log(step, "stage/b_qf_loss", Backend.ReadScalar(agent.AlignmentCriticLoss));
                    context.Metrics.Log(step, "stage/b_actor_loss", Backend.ReadScalar(agent.Operators.ActorLoss));
                    context.Metrics.Flush(step);
                }
                progress.Report(step);
            }
        }

        /// <summary>
        /// The baselines: "naive" loads the starting actor and the checkpoint's critics (their architecture read from
        /// the file; fresh critics of the config's architecture when it has none in our layout) into plain TD3;
        /// "scratch" starts plain TD3 from random weights with random warm-up actions. Both explore with unclipped σ_e
        /// noise, store the executed action, and mix offline data per buffer_mode.
        /// </summary>
        public RunResult PlainTd3(O2Td3StartingActor? starting)
        {
            bool scratch = config.Mode == O2Td3Config.ScratchMode;
            // Naive fine-tuning continues with the offline critics too: when the checkpoint holds twin critics in our
            // layout (TD3+BC's: no LayerNorm, unlike O2TD3's own critics), the online critics take their architecture.
            var checkpoint = scratch ? null : SafetensorsFile.Read(context.InitialCheckpoint!, rejectNonFinite: true);
            var (criticHidden, criticLayerNorm) = checkpoint is not null && SacCheckpoint.TwinCriticArchitecture(checkpoint, context.InitialCheckpoint!) is var (hidden, layerNorm)
                ? (hidden, layerNorm) : (config.CriticHidden, config.CriticLayerNorm);
            var td3Config = new Td3Config
            {
                TotalSteps = config.OnlineSteps,
                WarmupSteps = config.WarmupSteps,
                FineTuneWarmupSteps = config.WarmupSteps,
                BatchSize = config.BatchSize,
                BufferSize = config.BufferSize,
                Gamma = config.Gamma,
                Tau = config.Tau,
                ActorLr = config.ActorLr,
                CriticLr = config.CriticLr,
                PolicyNoise = config.PolicyNoise,
                NoiseClip = config.NoiseClip,
                PolicyDelay = config.PolicyDelay,
                ExplorationNoise = config.ExplorationNoise,
                ClipExplorationAction = false,
                UpdatesPerStep = config.UpdatesPerStep,
                ActorHidden = scratch || starting is null ? config.ScratchActorHidden : starting.Actor.Network.Spec.HiddenDims,
                CriticHidden = criticHidden,
                CriticLayerNorm = criticLayerNorm,
                BufferMode = config.BufferMode,
                EvaluateEvery = config.EvaluateEvery,
                EvaluationEpisodes = config.EvaluationEpisodes,
                LogEvery = config.LogEvery,
            };
            var agent = new Td3Agent(Backend, environment.ObservationSpace.Dimension, environment.ActionSpace.Dimension, td3Config, seed);
            if (!scratch)
            {
                agent.Networks.Actor.Parameters.CopyValuesFrom(starting!.Actor.Parameters);
                agent.Networks.ActorTarget.Parameters.CopyValuesFrom(starting.Actor.Parameters);
                bool critics = HasCompatibleCritics(checkpoint!, agent.Networks);
                if (critics)
                {
                    // The critics and their targets as stored (a file without targets gets copies); the actor comes only through the loading seam.
                    agent.Networks.Critic.Parameters.LoadFrom(checkpoint!, Td3Checkpoint.CriticPrefix);
                    if (checkpoint!.Tensors.Keys.Any(k => k.StartsWith(Td3Checkpoint.CriticTargetPrefix + ".", StringComparison.Ordinal)))
                        agent.Networks.CriticTarget.Parameters.LoadFrom(checkpoint, Td3Checkpoint.CriticTargetPrefix);
                    else agent.Networks.CriticTarget.Parameters.CopyValuesFrom(agent.Networks.Critic.Parameters);
                }
                context.Progress?.WriteLine(critics ? "o2td3 naive: loaded the checkpoint's actor and critics" : "o2td3 naive: loaded the actor; the checkpoint's critics do not fit, fresh critics");
            }
            // A resumed run logged the curve's start before its checkpoint (the evaluator's count is restored with the loop).
            if (context.ResumeCheckpoint is null)
            {
                var start = evaluator.Evaluate(agent.Policy, config.EvaluationEpisodes);
                if (!scratch) context.Metrics.Log(0, FineTuneTable.OfflineScore, start.MeanReturn);
                LogEvaluation(0, start);
                context.Metrics.Flush(0);
            }
            using var sampler = new MixedReplaySampler(Backend, config.BufferMode, offline, agent.Networks.ObsDim, agent.Networks.ActionDim, config.BufferSize,
                config.BatchSize, new DeviceRandom(Seeds.Derive(seed, 7)));
            var trainer = new OffPolicyTrainer(environment, evaluator, agent, sampler, LoopOptions(randomWarmup: scratch), context.Metrics, context.Progress)
            {
                // The mode is part of the name: a naive run's state never continues a scratch run (or stage C).
                Checkpoints = TrainingCheckpoints.For(context, agent, $"{AlgorithmName}-{config.Mode}", config.EvaluateEvery, path => SavePolicy(path, agent.Networks)),
                Cancellation = context.Cancellation,
            };
            var last = Finish(trainer, agent.Policy, trainer.Run());
            return new RunResult(last, SaveFinal(agent.Networks), configJson);
        }

        OffPolicyLoopOptions LoopOptions(bool randomWarmup) => new()
        {
            TotalSteps = config.OnlineSteps,
            WarmupSteps = config.WarmupSteps,
            RandomWarmup = randomWarmup,
            UpdatesPerStep = config.UpdatesPerStep,
            EvaluateEvery = config.EvaluateEvery,
            EvaluationEpisodes = config.EvaluationEpisodes,
            LogEvery = config.LogEvery,
            Seed = context.Seed,
            SharedEvaluationEnvironment = config.SharedEvalEnv,
            RewardTransform = config.RewardScale != 1f || config.RewardShift != 0f ? RewardMap : null,
        };

        float RewardMap(float reward) => config.RewardScale * reward + config.RewardShift;

        EvaluationResult Finish(OffPolicyTrainer trainer, IPolicy policy, EvaluationResult? last)
        {
            if (last is not null && config.EvaluateEvery > 0 && config.OnlineSteps % config.EvaluateEvery == 0) return last;
            last = evaluator.Evaluate(policy, config.EvaluationEpisodes);
            LogEvaluation(trainer.Step, last);
            context.Metrics.Flush(trainer.Step);
            return last;
        }

        string? SaveFinal(Td3Networks networks) => context.SaveFinalPolicy(AlgorithmName, path => SavePolicy(path, networks));

        void SavePolicy(string path, Td3Networks networks) =>
            Td3Checkpoint.Save(path, networks, AlgorithmName, context.EnvironmentId, normalizer, configJson, config.RewardScale, config.RewardShift);

        void LogEvaluation(long step, EvaluationResult result)
        {
            context.Metrics.Log(step, "eval/return", result.MeanReturn);
            if (result.NormalizedMean is double normalized) context.Metrics.Log(step, "eval/normalized_return", normalized);
        }

        void LogEvaluation(long step, O2Td3Score score)
        {
            context.Metrics.Log(step, "eval/return", score.MeanReturn);
            if (score.NormalizedMean is double normalized) context.Metrics.Log(step, "eval/normalized_return", normalized);
        }
    }

    /// <summary>True when the checkpoint holds critics with exactly the parameter names and shapes of <paramref name="networks"/>' critics.</summary>
    public static bool HasCompatibleCritics(Checkpoint checkpoint, Td3Networks networks)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(networks);
        var critic = networks.Critic.Parameters;
        int stored = checkpoint.Tensors.Keys.Count(k => k.StartsWith(Td3Checkpoint.CriticPrefix + ".", StringComparison.Ordinal));
        return stored == critic.Entries.Count && critic.Entries.All(e =>
            checkpoint.Tensors.TryGetValue(Td3Checkpoint.CriticPrefix + "." + e.Name, out var t) && t.Shape.SequenceEqual(e.Shape));
    }
}
