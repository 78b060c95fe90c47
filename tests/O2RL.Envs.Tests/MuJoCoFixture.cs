using O2RL.Envs.MuJoCo;

namespace O2RL.Envs.Tests;

/// <summary>Skips a MuJoCo test, with the loader's reason, only when the library is absent or unusable.</summary>
internal static class RequireMuJoCo
{
    public static void OrSkip()
    {
        var reason = MuJoCoLibrary.UnavailableReason;
        O2RL.Tests.Shared.RequiredTestLibraries.SkipWhenAbsent("mujoco", reason is not null, $"MuJoCo 2.2.2 is not usable here: {reason}");
    }
}
