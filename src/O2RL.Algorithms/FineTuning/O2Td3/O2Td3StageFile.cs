using System.Globalization;
using O2RL.Algorithms.Online;
using O2RL.Algorithms.Training;
using O2RL.Data;
using O2RL.Engine;
using O2RL.Engine.Checkpoints;

namespace O2RL.Algorithms.FineTuning.O2Td3;

/// <summary>An evaluation as the stage files keep it: the mean return and, when the task has reference scores, the normalised one.</summary>
public readonly record struct O2Td3Score(double MeanReturn, double? NormalizedMean)
{
    /// <summary>What reference choices compare: the normalised score when there is one, else the raw return.</summary>
    public double Score => NormalizedMean ?? MeanReturn;

    /// <summary>The score of an evaluation.</summary>
    public static O2Td3Score Of(EvaluationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new O2Td3Score(result.MeanReturn, result.NormalizedMean);
    }
}

/// <summary>What a stage file records besides the agent: which stage ended, the scores and the offline sampler's RNG counter.</summary>
/// <param name="Stage">"a" or "b".</param>
/// <param name="OfflineScore">μ_off evaluated before stage A.</param>
/// <param name="AlignedScore">The aligned actor evaluated after stage B (null in a stage-A file).</param>
/// <param name="OfflineSamplerCounter">Counter of the offline minibatch sampler's random stream.</param>
public sealed record O2Td3StageProgress(string Stage, O2Td3Score OfflineScore, O2Td3Score? AlignedScore, ulong OfflineSamplerCounter);

/// <summary>
/// The full agent state after stage A or B (<c>stage-a.safetensors</c>, <c>stage-b.safetensors</c>): every network
/// including the target critics AND the target actor (unlike the release, §1.8, so a resumed run equals an
/// uninterrupted one), μ_off and μ_ref, the moments and step counts of the actor, critic and log λ Adams, log λ,
/// the RNG counters, n_it and the scores. Loading it into a fresh agent built with the same config and seed
/// continues bit-identically on the CPU backend.
/// </summary>
public static class O2Td3StageFile
{
    /// <summary>Name prefixes of the networks not in <see cref="Td3Networks.ToNamedTensors"/>.</summary>
    public const string OfflineActorPrefix = "offline_actor", ReferencePrefix = "reference";
    const string LogLambdaName = "log_lambda";

    /// <summary>The file name of a stage's state in a run folder.</summary>
    public static string FileName(char stage) => $"stage-{char.ToLowerInvariant(stage)}.safetensors";

    /// <summary>
    /// Writes the agent's state and <paramref name="progress"/>, with the observation normalisation and action box
    /// of the run's policy files, so the stage's actor is also a policy for <c>o2rl eval</c> / <c>act</c>.
    /// </summary>
    public static void Save(string path, O2Td3Agent agent, O2Td3StageProgress progress, string configJson, StateNormalizer? normalizer, string environmentId)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(progress);
        var networks = agent.Networks;
        var tensors = networks.ToNamedTensors()
            .Concat(agent.OfflineActor.Parameters.ToNamedTensors(OfflineActorPrefix))
            .Concat(agent.Reference.Parameters.ToNamedTensors(ReferencePrefix))
            .Concat(Moments("optimizer.actor", networks.ActorOptimizer))
            .Concat(Moments("optimizer.critic", networks.CriticOptimizer))
            .Concat(Moments("optimizer.lambda", agent.Lagrange.Optimizer))
            .Append(new NamedTensor(LogLambdaName, [1], agent.Lagrange.LogLambda.ToArray()))
            // The latest loss values: stage C's first log (before its first update) reports them, so a run resumed
            // from a stage file logs what an uninterrupted one does.
            .Concat(LatestValues(agent).Select(v => new NamedTensor(v.Name, [1], v.Tensor.ToArray())))
            .ToList();
        var metadata = new Dictionary<string, string>
        {
            ["algorithm"] = O2Td3Run.AlgorithmName,
            ["stage"] = progress.Stage,
            ["obs_dim"] = Text(networks.ObsDim),
            ["act_dim"] = Text(networks.ActionDim),
            ["iteration_count"] = Text(agent.IterationCount),
            ["actor_optimizer_steps"] = Text(networks.ActorOptimizer.StepCount),
            ["critic_optimizer_steps"] = Text(networks.CriticOptimizer.StepCount),
            ["lambda_optimizer_steps"] = Text(agent.Lagrange.Optimizer.StepCount),
            ["smoothing_random_counter"] = Text(agent.SmoothingRandom.Counter),
            ["alignment_random_counter"] = Text(agent.AlignmentRandom.Counter),
            ["acting_random_counter"] = Text(agent.ActingPolicy.Random.Counter),
            ["offline_sampler_random_counter"] = Text(progress.OfflineSamplerCounter),
            ["offline_return"] = Text(progress.OfflineScore.MeanReturn),
            ["config"] = configJson,
            ["library_version"] = O2RL.Engine.BuildInfo.Version,
        };
        Td3Checkpoint.AddPolicyFacts(tensors, metadata, normalizer, environmentId);
        if (progress.OfflineScore.NormalizedMean is double offlineNormalized) metadata["offline_normalized_return"] = Text(offlineNormalized);
        if (progress.AlignedScore is O2Td3Score aligned)
        {
            metadata["aligned_return"] = Text(aligned.MeanReturn);
            if (aligned.NormalizedMean is double alignedNormalized) metadata["aligned_normalized_return"] = Text(alignedNormalized);
        }
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        // Write to a side file and move it, so an interrupted save never leaves a half stage file that a later run would resume from.
        string temporary = path + ".partial";
        SafetensorsFile.Write(temporary, tensors, metadata);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Restores a stage file into <paramref name="agent"/> (built with the same config and seed) and returns its progress record.</summary>
    public static O2Td3StageProgress Load(string path, O2Td3Agent agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        var checkpoint = SafetensorsFile.Read(path, rejectNonFinite: true);
        var networks = agent.Networks;
        int obsDim = Td3Checkpoint.ReadInt(checkpoint, "obs_dim"), actionDim = Td3Checkpoint.ReadInt(checkpoint, "act_dim");
        if (obsDim != networks.ObsDim || actionDim != networks.ActionDim)
            throw new InvalidDataException($"stage file '{path}' is for obs {obsDim} / act {actionDim} but the agent has {networks.ObsDim} / {networks.ActionDim}");
        networks.Actor.Parameters.LoadFrom(checkpoint, Td3Checkpoint.ActorPrefix);
        networks.ActorTarget.Parameters.LoadFrom(checkpoint, Td3Checkpoint.ActorTargetPrefix);
        networks.Critic.Parameters.LoadFrom(checkpoint, Td3Checkpoint.CriticPrefix);
        networks.CriticTarget.Parameters.LoadFrom(checkpoint, Td3Checkpoint.CriticTargetPrefix);
        agent.OfflineActor.Parameters.LoadFrom(checkpoint, OfflineActorPrefix);
        agent.Reference.Parameters.LoadFrom(checkpoint, ReferencePrefix);
        LoadMoments(checkpoint, "optimizer.actor", networks.ActorOptimizer, ReadLong(checkpoint, "actor_optimizer_steps"));
        LoadMoments(checkpoint, "optimizer.critic", networks.CriticOptimizer, ReadLong(checkpoint, "critic_optimizer_steps"));
        LoadMoments(checkpoint, "optimizer.lambda", agent.Lagrange.Optimizer, ReadLong(checkpoint, "lambda_optimizer_steps"));
        agent.Networks.Backend.Upload(checkpoint.GetTensor(LogLambdaName, 1).Data, agent.Lagrange.LogLambda);
        agent.Lagrange.Refresh();
        // Older stage files lack these; a resume from one differs only in the losses its first stage-C log reports.
        foreach (var (name, tensor) in LatestValues(agent))
            if (checkpoint.Tensors.ContainsKey(name)) agent.Networks.Backend.Upload(checkpoint.GetTensor(name, 1).Data, tensor);
        agent.IterationCount = ReadLong(checkpoint, "iteration_count");
        agent.SmoothingRandom.Counter = ReadUlong(checkpoint, "smoothing_random_counter");
        agent.AlignmentRandom.Counter = ReadUlong(checkpoint, "alignment_random_counter");
        agent.ActingPolicy.Random.Counter = ReadUlong(checkpoint, "acting_random_counter");
        var offline = new O2Td3Score(ReadDouble(checkpoint, "offline_return"), ReadOptionalDouble(checkpoint, "offline_normalized_return"));
        O2Td3Score? aligned = checkpoint.Metadata.ContainsKey("aligned_return")
            ? new O2Td3Score(ReadDouble(checkpoint, "aligned_return"), ReadOptionalDouble(checkpoint, "aligned_normalized_return")) : null;
        string stage = checkpoint.Metadata.TryGetValue("stage", out string? stageText) ? stageText : throw new InvalidDataException($"stage file '{path}' has no 'stage' entry");
        return new O2Td3StageProgress(stage, offline, aligned, ReadUlong(checkpoint, "offline_sampler_random_counter"));
    }

    static (string Name, Tensor Tensor)[] LatestValues(O2Td3Agent agent) =>
        [("latest.critic_loss", agent.Operators.CriticLoss), ("latest.mean_q", agent.Operators.MeanQ), ("latest.actor_loss", agent.Operators.ActorLoss),
         ("latest.target_penalty", agent.TargetPenalty), ("latest.lambda_loss", agent.Lagrange.Loss)];

    static IEnumerable<NamedTensor> Moments(string prefix, Adam optimizer)
    {
        int n = optimizer.FirstMoment.Length;
        yield return new NamedTensor(prefix + ".first_moment", [n], optimizer.FirstMoment.ToArray());
        yield return new NamedTensor(prefix + ".second_moment", [n], optimizer.SecondMoment.ToArray());
    }

    static void LoadMoments(Checkpoint checkpoint, string prefix, Adam optimizer, long steps)
    {
        int n = optimizer.FirstMoment.Length;
        var backend = optimizer.Parameters.Backend;
        backend.Upload(checkpoint.GetTensor(prefix + ".first_moment", n).Data, optimizer.FirstMoment);
        backend.Upload(checkpoint.GetTensor(prefix + ".second_moment", n).Data, optimizer.SecondMoment);
        optimizer.StepCount = steps;
    }

    static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
    static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    static long ReadLong(Checkpoint checkpoint, string key) =>
        checkpoint.Metadata.TryGetValue(key, out string? text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value : throw new InvalidDataException($"stage file metadata '{key}' is missing or not an integer");

    static ulong ReadUlong(Checkpoint checkpoint, string key) =>
        checkpoint.Metadata.TryGetValue(key, out string? text) && ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong value)
            ? value : throw new InvalidDataException($"stage file metadata '{key}' is missing or not an unsigned integer");

    static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    static double ReadDouble(Checkpoint checkpoint, string key) =>
        checkpoint.Metadata.TryGetValue(key, out string? text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value : throw new InvalidDataException($"stage file metadata '{key}' is missing or not a number");

    static double? ReadOptionalDouble(Checkpoint checkpoint, string key) => checkpoint.Metadata.ContainsKey(key) ? ReadDouble(checkpoint, key) : null;
}
