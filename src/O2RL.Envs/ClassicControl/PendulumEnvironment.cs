namespace O2RL.Envs.ClassicControl;

/// <summary>
/// Pendulum-v1 (Gymnasium classic control): swing a frictionless pendulum upright and keep it there.
/// Observation [3] = (cos θ, sin θ, θ̇); action [1] = torque in [−2, 2]. Never terminates; the registry adds the
/// 200-step time limit. The state is kept in double like the reference, the observation is float32.
/// </summary>
public sealed class PendulumEnvironment : EnvironmentBase
{
    /// <summary>Largest angular speed (rad/s).</summary>
    public const double MaxSpeed = 8.0;

    /// <summary>Largest torque.</summary>
    public const double MaxTorque = 2.0;

    /// <summary>Integration step (s).</summary>
    public const double TimeStep = 0.05;

    private const double Mass = 1.0;
    private const double Length = 1.0;

    /// <summary>Creates the task with gravity <paramref name="gravity"/> (Gymnasium's default 10).</summary>
    public PendulumEnvironment(double gravity = 10.0)
        : base("Pendulum-v1", new BoxSpace([-1f, -1f, -8f], [1f, 1f, 8f]), BoxSpace.Uniform(1, -2f, 2f))
    {
        if (!double.IsFinite(gravity))
            throw new ArgumentOutOfRangeException(nameof(gravity), gravity, "gravity must be finite");
        Gravity = gravity;
    }

    /// <summary>Gravitational acceleration.</summary>
    public double Gravity { get; }

    /// <summary>Current angle θ (0 = upright, not wrapped).</summary>
    public double Angle { get; private set; }

    /// <summary>Current angular velocity θ̇.</summary>
    public double AngularVelocity { get; private set; }

    /// <summary>Sets the state directly (tests and planners).</summary>
    public void SetState(double angle, double angularVelocity)
    {
        Angle = angle;
        AngularVelocity = angularVelocity;
    }

    /// <summary>Wraps an angle to [−π, π) with the floored modulo of the reference ((θ + π) mod 2π) − π.</summary>
    public static double NormalizeAngle(double angle)
    {
        double period = 2.0 * Math.PI;
        double remainder = (angle + Math.PI) % period;
        // C#'s % truncates toward zero; the reference's modulo takes the divisor's sign.
        if (remainder != 0 && remainder < 0) remainder += period;
        return remainder - Math.PI;
    }

    /// <inheritdoc />
    protected override void ResetCore(Span<float> observation)
    {
        Angle = Random.Uniform(-Math.PI, Math.PI);
        AngularVelocity = Random.Uniform(-1.0, 1.0);
        WriteObservation(observation);
    }

    /// <inheritdoc />
    protected override StepResult StepCore(ReadOnlySpan<float> action, Span<float> observation)
    {
        double torque = Math.Clamp((double)action[0], -MaxTorque, MaxTorque);
        double theta = Angle, thetaDot = AngularVelocity;
        double wrapped = NormalizeAngle(theta);
        // The cost is evaluated on the state before the update.
        double cost = wrapped * wrapped + 0.1 * thetaDot * thetaDot + 0.001 * (torque * torque);

        double newThetaDot = thetaDot + (3 * Gravity / (2 * Length) * Math.Sin(theta) + 3.0 / (Mass * Length * Length) * torque) * TimeStep;
        newThetaDot = Math.Clamp(newThetaDot, -MaxSpeed, MaxSpeed);
        Angle = theta + newThetaDot * TimeStep;
        AngularVelocity = newThetaDot;
        WriteObservation(observation);
        return new StepResult(-cost, false, false);
    }

    private void WriteObservation(Span<float> observation)
    {
        observation[0] = (float)Math.Cos(Angle);
        observation[1] = (float)Math.Sin(Angle);
        observation[2] = (float)AngularVelocity;
    }
}
