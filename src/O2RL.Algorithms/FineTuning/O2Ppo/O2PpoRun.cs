using System.Globalization;
using O2RL.Algorithms.Configs;
using O2RL.Algorithms.Networks;
using O2RL.Algorithms.Offline;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Data.Replay;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;
using O2RL.Engine.Distributions;
using O2RL.Envs;
using O2RL.Envs.Wrappers;

namespace O2RL.Algorithms.FineTuning.O2Ppo;

/// <summary>The learners <see cref="O2PpoConfig.Mode"/> selects.</summary>
public enum O2PpoMode
{
    /// <summary>"ocr-cft": O2PPO (value pre-training, auxiliary reference advantage, reference replacement).</summary>
    OcrCft,
    /// <summary>"naive": plain PPO from the loaded actor with a fresh value network.</summary>
    Naive,
    /// <summary>"scratch": plain PPO from a random actor.</summary>
    Scratch,
    /// <summary>"offline": evaluate the loaded actor only.</summary>
    Offline,
}

/// <summary>
/// O2PPO end to end (ALGORITHMS.md §5, §1.6, §8): offline data → evaluation of the loaded actor (the curve's step-0
/// point) → stage A (value pre-training, cached as <c>stage-a.safetensors</c> in the run folder) → stage C (PPO with
/// the auxiliary reference advantage; π_ref replaced at evaluations by the best-so-far or every-n rule) →
/// <c>config.json</c> and <c>o2ppo.safetensors</c>. Stage C (and the baselines' loop) saves full-state checkpoints in
/// the folder's checkpoints/; with <see cref="RunContext.ResumeCheckpoint"/> the run restores stage A from its file and
/// continues stage C from that checkpoint.
/// </summary>
public static class O2PpoRun
{
    /// <summary>Algorithm name in config paths and checkpoints.</summary>
    public const string Algorithm = "o2ppo";
    /// <summary>Stage A's file in the run folder; a run whose folder holds it skips stage A.</summary>
    public const string StageAFileName = "stage-a.safetensors";

    /// <summary>Parses <see cref="O2PpoConfig.Mode"/>.</summary>
    public static O2PpoMode ParseMode(string mode) => mode?.Trim().ToLowerInvariant() switch
    {
        "ocr-cft" or "ocr_cft" or "ocrcft" => O2PpoMode.OcrCft,
        "naive" => O2PpoMode.Naive,
        "scratch" => O2PpoMode.Scratch,
        "offline" => O2PpoMode.Offline,
        _ => throw new ArgumentException($"mode '{mode}' is not one of ocr-cft, naive, scratch, offline"),
    };

    /// <summary>
    /// The one place the starting actor is read: any actor checkpoint <see cref="StartingActor"/> recognises (the IQL
    /// Gaussian actor loads directly; other families go through its converter), built with PPO's log-std clamp
    /// [−10, 2]. Hidden widths come from the checkpoint.
    /// </summary>
    public static (GaussianActor Actor, int[] HiddenDims, StateNormalizer? Normalizer, string Description) LoadStartingActor(string path, Backend backend,
        float initialStd = 0.1f)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(backend);
        var source = StartingActor.Load(path);
        var actor = source.ToGaussian(backend, Gaussian.PpoMinLogStd, initialStd);
        return (actor, source.HiddenDims, source.Normalizer, source.DescribeTransfer(ActorFamily.Gaussian));
    }

    /// <summary>Loads the fine-tuned actor (and its normaliser) from an <c>o2ppo.safetensors</c>.</summary>
    public static (GaussianActor Actor, StateNormalizer Normalizer) LoadActor(Backend backend, string path, bool trainable = true) =>
        GaussianActorCheckpoint.Load(backend, path, Gaussian.PpoMinLogStd, trainable);

    /// <summary>
    /// Resolves the config (defaults → <c>configs/o2ppo/&lt;env&gt;/&lt;dataset&gt;.yaml</c> → user file → overrides) and runs
    /// the selected <see cref="O2PpoConfig.Mode"/>. <see cref="RunContext.InitialCheckpoint"/> is the offline actor
    /// (not needed by "scratch"); <see cref="RunContext.DatasetPath"/> the D4RL-layout dataset (needed by "ocr-cft":
    /// value pre-training and the normalisation constants come from it; the other modes use it for the constants when
    /// given, else the checkpoint's, else a running normaliser from scratch).
    /// </summary>
    public static RunResult Run(RunContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var config = ConfigLoader.Resolve(new O2PpoConfig(),
            ConfigLoader.ShippedConfigPath(Algorithm, context.EnvironmentId, context.ResolveDatasetName()), context.ConfigFile, context.Overrides);
        config.Validate();
        var mode = ParseMode(config.Mode);
        string configJson = ConfigLoader.ToJson(config);
        context.RecordConfig(configJson);
        var backend = context.Backend;
        ulong seed = (ulong)context.Seed;
        var metrics = context.Metrics;
        string? stageFile = context.OutputDirectory is null ? null : Path.Combine(context.OutputDirectory, StageAFileName);

        using var probe = PolicyEnvironment.Make(context.EnvironmentId, null);
        int obsDim = probe.ObservationSpace.Dimension, actionDim = probe.ActionSpace.Dimension;

        // Offline data (§5.2): reward scaling, PPO conversion, MC returns, fixed normalisation constants.
        PpoOfflineData? data = null;
        if (context.DatasetPath is not null)
        {
            data = PpoOfflineData.Prepare(context.ReadDataset(), config.Gamma, config.RewardScaling, config.NormalizeStates);
            if (data.Transitions.ObservationDim != obsDim || data.Transitions.ActionDim != actionDim)
                throw new ArgumentException($"dataset has obs {data.Transitions.ObservationDim} / action {data.Transitions.ActionDim} dimensions but {context.EnvironmentId} has {obsDim} / {actionDim}");
        }
        else if (mode == O2PpoMode.OcrCft)
        {
            throw new ArgumentException("O2PPO pre-trains its value network on the offline data: the run needs a dataset file (DatasetPath)");
        }

        // Starting actor (§5.1, §6.4) and the std cap of the hopper expert tasks.
        GaussianActor actor;
        int[] actorHidden;
        string transfer;
        StateNormalizer? checkpointNormalizer = null;
        if (mode == O2PpoMode.Scratch)
        {
            actorHidden = config.ActorHidden;
            actor = new GaussianActor(backend, obsDim, actionDim, seed, Gaussian.PpoMinLogStd, hiddenDims: actorHidden);
            if (config.InitialLogStd != 0f) backend.Fill(actor.Network.Extra("log_std").Value, config.InitialLogStd);
            transfer = "random init";
        }
        else
        {
            string path = context.InitialCheckpoint ?? throw new ArgumentException($"mode '{config.Mode}' starts from an offline actor: the run needs InitialCheckpoint");
            (actor, actorHidden, checkpointNormalizer, transfer) = LoadStartingActor(path, backend, config.DeterministicSourceStd);
            if (actor.ObsDim != obsDim || actor.ActionDim != actionDim)
                throw new ArgumentException($"starting actor takes {actor.ObsDim} observations and gives {actor.ActionDim} actions, but {context.EnvironmentId} has {obsDim} and {actionDim}");
            if (config.StdCap > 0f) StdCap.Apply(actor, config.StdCap);
        }

        IObservationFilter filter = data is not null ? new FixedObservationFilter(data.Normalizer)
            : !config.NormalizeStates ? new FixedObservationFilter(StateNormalizer.Identity(obsDim))
            : checkpointNormalizer is not null ? new FixedObservationFilter(checkpointNormalizer)
            : new RunningObservationFilter(obsDim);
        using var evaluator = new Evaluator(new FilteredObservations(PolicyEnvironment.Make(context.EnvironmentId, null), filter),
            context.ScoreTaskId ?? context.EnvironmentId, context.Seed);
        context.Progress?.WriteLine($"o2ppo: mode {config.Mode}; starting actor: {transfer}");
        if (mode != O2PpoMode.Scratch && checkpointNormalizer is null && config.NormalizeStates)
            context.Progress?.WriteLine(data is not null
                ? "o2ppo: the starting file has no state normaliser (a PyTorch state_dict): states normalised with the dataset's PPO constants (mean and std + 1e-10, §5.2)"
                : "o2ppo: the starting file has no state normaliser (a PyTorch state_dict) and no --dataset was given: states normalised by a running mean and std, as PPO from scratch");

        var ppoConfig = config.ToPpoConfig(actorHidden);
        O2PpoAgent? o2 = mode == O2PpoMode.OcrCft ? new O2PpoAgent(backend, config, actor, seed, actorHidden) : null;
        IOnPolicyAgent agent = o2 is not null ? o2 : new PpoAgent(backend, obsDim, actionDim, ppoConfig, seed, actor);
        var critic = o2 is not null ? o2.Critic : ((PpoAgent)agent).Critic;

        // Step 0 of the curve: the loaded actor's score, measured before anything else (§6.4, §8). A run resuming from its
        // stage file measures it again (deterministic, the same value), which also keeps the evaluator's episode seeds in
        // step with an uninterrupted run.
        var offlineEvaluation = evaluator.Evaluate(agent.Policy, config.EvaluationEpisodes);
        double offlineScore = offlineEvaluation.Score;
        // A run resumed inside stage C logged these before its checkpoint (and the evaluator's count is restored with the loop).
        bool resumingStageC = context.ResumeCheckpoint is not null;
        if (!resumingStageC)
        {
            metrics.Log(0, FineTuneTable.OfflineScore, offlineEvaluation.MeanReturn);
            metrics.Log(0, "eval/return", offlineEvaluation.MeanReturn);
            if (offlineEvaluation.NormalizedMean is double normalized) metrics.Log(0, "eval/normalized_return", normalized);
            metrics.Flush(0);
        }
        if (mode == O2PpoMode.Offline)
            return Finish(context, config, configJson, o2, actor, critic, filter, offlineEvaluation, offlineScore, transfer, null);

        // Stage A (§5.3): value pre-training on MC returns, or its cached result.
        if (o2 is not null)
        {
            using var stageA = new ValuePretrainer(backend, obsDim, config.CriticHidden, seed, config.ValuePretrainLr, config.ValuePretrainBatchSize);
            if (stageFile is not null && File.Exists(stageFile)) stageA.Restore(stageFile);
            if (stageA.Steps < config.ValuePretrainSteps)
            {
                stageA.Load(data!.Transitions);
                var progress = new ProgressReporter(context.Progress, "o2ppo stage A", config.ValuePretrainSteps);
                long logEvery = Math.Max(1, config.ValuePretrainSteps / 100);
                while (stageA.Steps < config.ValuePretrainSteps)
                {
                    // Ctrl+C stops stage A between two steps; the run starts it over (it has no mid-stage file).
                    context.Cancellation.ThrowIfCancellationRequested();
                    stageA.Step();
                    if (stageA.Steps % logEvery == 0 || stageA.Steps == config.ValuePretrainSteps)
                    {
                        metrics.Log(stageA.Steps, "stage/a_value_loss", backend.ReadScalar(stageA.Loss));
                        metrics.Flush(stageA.Steps);
                    }
                    progress.Report(stageA.Steps);
                }
                if (stageFile is not null)
                {
                    Directory.CreateDirectory(context.OutputDirectory!);
                    var stageInfo = GaussianActorCheckpoint.Metadata(Algorithm, context.EnvironmentId, obsDim, actionDim, configJson);
                    stageInfo["offline_score"] = offlineScore.ToString("R", CultureInfo.InvariantCulture);
                    stageA.Save(stageFile, stageInfo);
                }
            }
            else
            {
                context.Progress?.WriteLine($"o2ppo: stage A restored from {StageAFileName} ({stageA.Steps} steps)");
            }
            // Its weights initialise the PPO critic; the online critic optimiser starts fresh (lr 2e-4, ε 1e-5).
            critic.Parameters.CopyValuesFrom(stageA.Value.Parameters);
        }

        // Stage C (§5.4–§5.5, §1.6).
        var tracker = new ReferencePolicyTracker(config.ReferWithOptimalPi ? ReferenceRule.BestSoFar : ReferenceRule.EveryN,
            config.ReferenceUpdateN, config.EvaluateEvery);
        tracker.ChooseInitial(offlineScore, offlineScore);   // no alignment stage: best_score = the loaded actor's score
        var scaler = data?.RewardScaler;
        IResumableAgent resumable;
        if (o2 is not null)
        {
            o2.Tracker = tracker;
            o2.RewardScaler = scaler;
            resumable = o2;
        }
        else resumable = scaler is null ? (PpoAgent)agent : new PpoWithRewardScaler((PpoAgent)agent, scaler);
        IEnvironment training = PolicyEnvironment.Make(context.EnvironmentId, null);
        if (scaler is not null) training = new EpisodeStartHook(training, scaler.ResetSum);
        using var trainingEnvironment = training;
        using var rollout = new RolloutBuffer(backend, config.RolloutLength, obsDim, actionDim, config.MinibatchSize);
        var trainer = new OnPolicyTrainer(trainingEnvironment, evaluator, agent, rollout, filter, new OnPolicyLoopOptions
        {
            TotalSteps = config.TotalSteps,
            EvaluateEvery = config.EvaluateEvery,
            EvaluationEpisodes = config.EvaluationEpisodes,
            EvaluateAtStart = false,
            Seed = context.Seed,
            RewardTransform = scaler is null ? null : reward => scaler.Scale(reward),
        }, metrics, context.Progress)
        {
            OnEvaluation = (step, result) =>
            {
                if (o2 is null) return;
                bool replace = tracker.ShouldReplace(step, result.Score);
                if (replace) o2.ReplaceReference();
                metrics.Log(step, "charts/reference_replaced", replace ? 1 : 0);
                metrics.Log(step, "charts/best_score", tracker.BestScore);
            },
            // The mode is part of the name: a naive run's state never continues a scratch run (or stage C).
            Checkpoints = TrainingCheckpoints.For(context, resumable, o2 is not null ? Algorithm : $"{Algorithm}-{config.Mode.Trim().ToLowerInvariant()}", config.EvaluateEvery,
                path => SavePolicy(path, context, config, configJson, o2, actor, critic, filter, tracker.BestScore, transfer, offlineScore)),
            Cancellation = context.Cancellation,
        };
        var final = trainer.Run();
        return Finish(context, config, configJson, o2, actor, critic, filter, final ?? offlineEvaluation, tracker.BestScore, transfer, offlineScore);
    }

    static RunResult Finish(RunContext context, O2PpoConfig config, string configJson, O2PpoAgent? o2, GaussianActor actor, Mlp critic,
        IObservationFilter filter, EvaluationResult? final, double bestScore, string transfer, double? offlineScore)
    {
        string? checkpointPath = context.SaveFinalPolicy(Algorithm,
            path => SavePolicy(path, context, config, configJson, o2, actor, critic, filter, bestScore, transfer, offlineScore));
        return new RunResult(final, checkpointPath, configJson);
    }

    /// <summary>The policy file: the final one, and the one beside each step checkpoint.</summary>
    static void SavePolicy(string path, RunContext context, O2PpoConfig config, string configJson, O2PpoAgent? o2, GaussianActor actor, Mlp critic,
        IObservationFilter filter, double bestScore, string transfer, double? offlineScore)
    {
        var tensors = actor.Parameters.ToNamedTensors(GaussianActorCheckpoint.ActorPrefix)
            .Concat(critic.Parameters.ToNamedTensors("critic"));
        if (o2 is not null) tensors = tensors.Concat(o2.Reference.Parameters.ToNamedTensors("reference"));
        tensors = tensors.Concat(GaussianActorCheckpoint.NormalizerTensors(filter.Snapshot()));
        var metadata = GaussianActorCheckpoint.Metadata(Algorithm, context.EnvironmentId, actor.ObsDim, actor.ActionDim, configJson);
        metadata["mode"] = config.Mode;
        metadata["starting_actor"] = transfer;
        metadata["best_score"] = bestScore.ToString("R", CultureInfo.InvariantCulture);
        if (offlineScore is double offline) metadata["offline_score"] = offline.ToString("R", CultureInfo.InvariantCulture);
        SafetensorsFile.Write(path, tensors.ToList(), metadata);
    }

    /// <summary>Calls a hook at every episode start (the reward scaler's discounted sum is reset there, §5.2).</summary>
    sealed class EpisodeStartHook(IEnvironment inner, Action onReset) : EnvironmentWrapper(inner)
    {
        public override void Reset(Span<float> observation, int? seed = null)
        {
            onReset();
            Inner.Reset(observation, seed);
        }
    }
}
