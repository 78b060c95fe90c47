namespace O2RL.Envs.ClassicControl;

/// <summary>
/// MountainCarContinuous-v0 (Gymnasium classic control): drive an under-powered car up the right hill.
/// Observation [2] = (position, velocity); action [1] = force in [−1, 1]. Terminates at position ≥ 0.45 with
/// velocity ≥ the goal velocity; the registry adds the 999-step time limit. Like the reference, the state is
/// stored as float32 after every step while each update is computed in double.
/// </summary>
public sealed class MountainCarContinuousEnvironment : EnvironmentBase
{
    /// <summary>Left wall.</summary>
    public const float MinPosition = -1.2f;

    /// <summary>Right edge of the track.</summary>
    public const float MaxPosition = 0.6f;

    /// <summary>Largest speed.</summary>
    public const float MaxSpeed = 0.07f;

    /// <summary>Position of the flag.</summary>
    public const double GoalPosition = 0.45;

    private const double Power = 0.0015;

    /// <summary>Creates the task; <paramref name="goalVelocity"/> is the least velocity that counts at the flag.</summary>
    public MountainCarContinuousEnvironment(double goalVelocity = 0.0)
        : base("MountainCarContinuous-v0",
               new BoxSpace([MinPosition, -MaxSpeed], [MaxPosition, MaxSpeed]),
               BoxSpace.Uniform(1, -1f, 1f))
    {
        GoalVelocity = goalVelocity;
    }

    /// <summary>Least velocity that counts as reaching the goal.</summary>
    public double GoalVelocity { get; }

    /// <summary>Current position.</summary>
    public float Position { get; private set; }

    /// <summary>Current velocity.</summary>
    public float Velocity { get; private set; }

    /// <summary>Sets the state directly (tests and planners).</summary>
    public void SetState(float position, float velocity)
    {
        Position = position;
        Velocity = velocity;
    }

    /// <inheritdoc />
    protected override void ResetCore(Span<float> observation)
    {
        Position = (float)Random.Uniform(-0.6, -0.4);
        Velocity = 0f;
        observation[0] = Position;
        observation[1] = Velocity;
    }

    /// <inheritdoc />
    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        double position = Position, velocity = Velocity;
        double force = Math.Clamp((double)action[0], -1.0, 1.0);
        velocity += force * Power - 0.0025 * Math.Cos(3 * position);
        velocity = Math.Clamp(velocity, -(double)MaxSpeed, MaxSpeed);
        position += velocity;
        position = Math.Clamp(position, MinPosition, MaxPosition);
        if (position == MinPosition && velocity < 0) velocity = 0;

        bool terminated = position >= GoalPosition && velocity >= GoalVelocity;
        // The control cost uses the raw action, not the clipped force (as the reference does).
        double reward = (terminated ? 100.0 : 0.0) - 0.1 * ((double)action[0] * action[0]);

        Position = (float)position;
        Velocity = (float)velocity;
        observation[0] = Position;
        observation[1] = Velocity;
        return new StepResult(reward, terminated, false, new StepInfo(terminated ? StepFlags.GoalReached : StepFlags.None));
    }
}
