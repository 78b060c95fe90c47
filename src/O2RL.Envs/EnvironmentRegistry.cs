using O2RL.Envs.ClassicControl;
using O2RL.Envs.Maze;
using O2RL.Envs.MuJoCo;
using O2RL.Envs.Wrappers;

namespace O2RL.Envs;

/// <summary>What the registry knows about one environment id.</summary>
/// <param name="Id">Registry id, e.g. "Hopper-v2".</param>
/// <param name="ObservationDim">Length of an observation.</param>
/// <param name="ActionDim">Length of an action.</param>
/// <param name="MaxEpisodeSteps">Time limit the registry applies (truncation).</param>
/// <param name="Reproduces">Which reference version the MDP reproduces.</param>
/// <param name="ModelName">Embedded MJCF model name, or null for tasks without one.</param>
/// <param name="NeedsMuJoCo">Whether the task needs the MuJoCo library.</param>
public sealed record EnvironmentSpec(
    string Id, int ObservationDim, int ActionDim, int MaxEpisodeSteps, string Reproduces, string? ModelName, bool NeedsMuJoCo);

/// <summary>An <see cref="EnvironmentSpec"/> plus whether it can be created on this machine.</summary>
/// <param name="Spec">The registered description.</param>
/// <param name="Available">True when <see cref="EnvironmentRegistry.Make"/> will succeed here.</param>
/// <param name="UnavailableReason">Why not (null when available).</param>
public sealed record EnvironmentAvailability(EnvironmentSpec Spec, bool Available, string? UnavailableReason);

/// <summary>
/// Creates environments by id, Gymnasium's make(): the raw task wrapped in a <see cref="TimeLimit"/> with the
/// registered episode limit. <see cref="Register"/> adds a task of your own, which every run then accepts by id.
/// </summary>
public static class EnvironmentRegistry
{
    private static readonly (EnvironmentSpec Spec, Func<IEnvironment> Create, Func<string>? Xml)[] BuiltIn =
    [
        (new EnvironmentSpec("Pendulum-v1", 3, 1, 200, "Gymnasium Pendulum-v1", null, false),
            () => new PendulumEnvironment(), null),
        (new EnvironmentSpec("MountainCarContinuous-v0", 2, 1, 999, "Gymnasium MountainCarContinuous-v0", null, false),
            () => new MountainCarContinuousEnvironment(), null),
        (new EnvironmentSpec("Hopper-v2", 11, 3, 1000, "Gym mujoco-py Hopper-v2 (D4RL hopper-*-v2)", "hopper", true),
            () => new HopperEnvironment(), () => MuJoCoModels.GetXml("hopper")),
        (new EnvironmentSpec("Walker2d-v2", 17, 6, 1000, "Gym mujoco-py Walker2d-v2 (D4RL walker2d-*-v2)", "walker2d", true),
            () => new Walker2dEnvironment(), () => MuJoCoModels.GetXml("walker2d")),
        (new EnvironmentSpec("HalfCheetah-v2", 17, 6, 1000, "Gym mujoco-py HalfCheetah-v2 (D4RL halfcheetah-*-v2)", "half_cheetah", true),
            () => new HalfCheetahEnvironment(), () => MuJoCoModels.GetXml("half_cheetah")),
        (new EnvironmentSpec("Ant-v2", 111, 8, 1000, "Gym mujoco-py Ant-v2 (D4RL ant-*-v2; contact forces zero as in the data)", "ant", true),
            () => new AntEnvironment(), () => MuJoCoModels.GetXml("ant")),
        .. PointMaze("umaze", MazeLayout.PointUMaze, 300),
        .. PointMaze("medium", MazeLayout.PointMedium, 600),
        .. PointMaze("large", MazeLayout.PointLarge, 800),
        .. AntMaze("umaze", ["umaze", "umaze-diverse"], MazeLayout.AntUMaze, 700),
        .. AntMaze("medium", ["medium-play", "medium-diverse"], MazeLayout.AntMedium, 1000),
        .. AntMaze("large", ["large-play", "large-diverse"], MazeLayout.AntLarge, 1000),
    ];

    private static IEnumerable<(EnvironmentSpec, Func<IEnvironment>, Func<string>?)> PointMaze(string name, MazeLayout layout, int limit)
    {
        string sparse = $"maze2d-{name}-v1", dense = $"maze2d-{name}-dense-v1";
        Func<string> xml = () => MazeModels.PointMazeXml(layout);
        yield return (new EnvironmentSpec(sparse, 4, 2, limit, $"D4RL {sparse} (sparse reward)", $"maze2d-{name}", true),
            () => new Maze2DEnvironment(sparse, layout), xml);
        yield return (new EnvironmentSpec(dense, 4, 2, limit, $"D4RL {dense} (reward exp(-distance))", $"maze2d-{name}", true),
            () => new Maze2DEnvironment(dense, layout, denseReward: true), xml);
    }

    // The dataset variants (plain/diverse/play) share one evaluation environment; only their datasets differ.
    private static IEnumerable<(EnvironmentSpec, Func<IEnvironment>, Func<string>?)> AntMaze(string name, string[] variants, MazeLayout layout, int limit)
    {
        foreach (var variant in variants)
        {
            string id = $"antmaze-{variant}-v2";
            yield return (new EnvironmentSpec(id, 29, 8, limit, $"D4RL {id} evaluation env (goal resampled at every reset)", $"antmaze-{name}", true),
                () => new AntMazeEnvironment(id, layout), () => MazeModels.AntMazeXml(layout));
        }
    }

    // Copy-on-write, so lookups need no lock and a registration never changes a list being enumerated.
    private static volatile (EnvironmentSpec Spec, Func<IEnvironment> Create, Func<string>? Xml)[] Entries = BuiltIn;
    private static readonly Lock RegistrationLock = new();

    /// <summary>Every registered environment.</summary>
    public static IReadOnlyList<EnvironmentSpec> Specs => [.. Entries.Select(e => e.Spec)];

    private static IEnumerable<(EnvironmentSpec Spec, Func<IEnvironment> Create, Func<string>? Xml)> All() => Entries;

    /// <summary>
    /// Registers an environment of your own under <paramref name="id"/>, as Gymnasium's register(): from then on
    /// <see cref="Make"/> creates it wrapped in a <see cref="TimeLimit"/> of <paramref name="maxEpisodeSteps"/>, and
    /// every run (online, offline, fine-tuning, dataset collection) accepts the id like a built-in task; the runs
    /// rescale a non-[−1, 1] action box for the actors and record it in the policy checkpoints. The factory is called
    /// once here to read the spaces (and the instance disposed); each call must return a new instance whose
    /// <see cref="IEnvironment.Id"/> is <paramref name="id"/>. Returns the spec.
    /// </summary>
    public static EnvironmentSpec Register(string id, Func<IEnvironment> create, int maxEpisodeSteps, string? description = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(create);
        if (maxEpisodeSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(maxEpisodeSteps), maxEpisodeSteps, $"{id}: the episode step limit must be positive (evaluation episodes must end)");
        int observationDim, actionDim;
        using (var probe = create() ?? throw new ArgumentException($"{id}: the factory returned null", nameof(create)))
        {
            if (probe.Id != id)
                throw new ArgumentException($"the factory for '{id}' makes an environment whose Id is '{probe.Id}'; they must be equal (checkpoints and reports name the task by it)", nameof(create));
            var box = probe.ActionSpace;
            for (int j = 0; j < box.Dimension; j++)
                if (!float.IsFinite(box.Low[j]) || !float.IsFinite(box.High[j]) || !(box.Low[j] < box.High[j]))
                    throw new ArgumentException($"{id}: action dimension {j} has the box [{box.Low[j]}, {box.High[j]}]; actors act in [-1, 1] and are rescaled to a finite box with low < high");
            observationDim = probe.ObservationSpace.Dimension;
            actionDim = box.Dimension;
        }
        var spec = new EnvironmentSpec(id, observationDim, actionDim, maxEpisodeSteps, description ?? "registered by the application", null, false);
        lock (RegistrationLock)
        {
            if (Entries.Any(e => e.Spec.Id == id))
                throw new InvalidOperationException($"an environment '{id}' is already registered");
            Entries = [.. Entries, (spec, create, null)];
        }
        return spec;
    }

    /// <summary>Removes an environment added with <see cref="Register"/>; false when no such registration exists (built-in tasks stay).</summary>
    public static bool Unregister(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (RegistrationLock)
        {
            if (BuiltIn.Any(e => e.Spec.Id == id) || !Entries.Any(e => e.Spec.Id == id)) return false;
            Entries = [.. Entries.Where(e => e.Spec.Id != id)];
            return true;
        }
    }

    /// <summary>The spec of <paramref name="id"/> (case-sensitive, as Gymnasium's).</summary>
    public static EnvironmentSpec GetSpec(string id) => Find(id).Spec;

    private static (EnvironmentSpec Spec, Func<IEnvironment> Create, Func<string>? Xml) Find(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        foreach (var entry in All())
            if (entry.Spec.Id == id) return entry;
        throw new ArgumentException($"unknown environment id '{id}'; known ids: {string.Join(", ", All().Select(e => e.Spec.Id))}");
    }

    /// <summary>
    /// Creates <paramref name="id"/>. With <paramref name="timeLimit"/> (default) the task is wrapped in a
    /// <see cref="TimeLimit"/> of the registered length, as Gymnasium's make does.
    /// </summary>
    public static IEnvironment Make(string id, bool timeLimit = true)
    {
        var entry = Find(id);
        if (entry.Spec.NeedsMuJoCo) MuJoCoLibrary.EnsureAvailable();
        var environment = entry.Create();
        return timeLimit ? new TimeLimit(environment, entry.Spec.MaxEpisodeSteps) : environment;
    }

    /// <summary>Every environment with whether it can be created here, and why not.</summary>
    public static IReadOnlyList<EnvironmentAvailability> ListAvailability()
    {
        string? mujocoReason = MuJoCoLibrary.UnavailableReason;
        return [.. All().Select(e => e.Spec.NeedsMuJoCo && mujocoReason is not null
            ? new EnvironmentAvailability(e.Spec, false, mujocoReason)
            : new EnvironmentAvailability(e.Spec, true, null))];
    }

    /// <summary>The MJCF text of the model behind <paramref name="id"/>; throws for tasks without a model.</summary>
    public static string GetModelXml(string id)
    {
        var entry = Find(id);
        if (entry.Xml is null)
            throw new ArgumentException($"{id} is a pure C# task and has no MuJoCo model");
        return entry.Xml();
    }
}
