namespace O2RL.Algorithms.Configs;

/// <summary>
/// The range checks of the configs' <c>Validate</c> methods. Each message names the setting as a user writes it
/// (<c>--set KEY=…</c>, a YAML key) and the value it got, so a run refuses a bad value before it makes its folder
/// instead of training nothing, diverging, or failing at its first update deep inside a learner. Callers pass the
/// property's name (<c>nameof</c>); the message shows it as the key, in the loader's snake case.
/// </summary>
static class SettingChecks
{
    public static void AtLeast(string property, long value, long minimum)
    {
        if (value < minimum) throw new ArgumentException($"{Key(property)} must be {(minimum == 0 ? "≥ 0" : $"at least {minimum}")}, got {value}");
    }

    /// <summary>Learning rates: 0 is a frozen network, which experiments use; intervals: 0 is "never".</summary>
    public static void NotNegative(string property, double value)
    {
        if (!(value >= 0)) throw new ArgumentException($"{Key(property)} must be ≥ 0, got {Show(value)}");
    }

    public static void Positive(string property, double value)
    {
        if (!(value > 0)) throw new ArgumentException($"{Key(property)} must be positive, got {Show(value)}");
    }

    /// <summary>γ, GAE λ: [0, 1].</summary>
    public static void Fraction(string property, double value)
    {
        if (!(value >= 0 && value <= 1)) throw new ArgumentException($"{Key(property)} must be in [0, 1], got {Show(value)}");
    }

    /// <summary>Polyak τ: (0, 1] (0 would freeze the targets for good).</summary>
    public static void PolyakRate(string property, double value)
    {
        if (!(value > 0 && value <= 1)) throw new ArgumentException($"{Key(property)} must be in (0, 1], got {Show(value)}");
    }

    public static void Widths(string property, int[] widths)
    {
        if (widths is null) throw new ArgumentException($"{Key(property)} is missing (null): give the hidden layer widths, e.g. [256, 256]");
        if (widths.Length < 1 || widths.Any(w => w < 1))
            throw new ArgumentException($"{Key(property)} [{string.Join(", ", widths)}] needs at least one layer and positive widths");
    }

    /// <summary>The soft actor-critic learner's settings, shared by SAC's and O2SAC's configs: batch, γ, τ, learning rates, α.</summary>
    public static void SoftActorCritic(int batchSize, float gamma, float tau, float actorLr, float criticLr, float alphaLr, float alpha)
    {
        AtLeast("BatchSize", batchSize, 1);
        Fraction("Gamma", gamma);
        PolyakRate("Tau", tau);
        NotNegative("ActorLr", actorLr);
        NotNegative("CriticLr", criticLr);
        NotNegative("AlphaLr", alphaLr);
        NotNegative("Alpha", alpha);
    }

    static string Key(string property) => ConfigLoader.SnakeCase(property);

    // Most settings are floats: shown as the float they are (0.1, not 0.10000000149011612).
    static string Show(double value) => ((float)value).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
