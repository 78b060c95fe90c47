using Xunit;

namespace O2RL.Engine.Tests.Backends;

[Collection(IlgpuCollection.Name)]
public sealed class DevicesTests
{
    static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData(null, null, "auto")]
    [InlineData("", null, "auto")]
    [InlineData(" CUDA ", null, "cuda")]
    [InlineData("ilgpu-cpu", "cpu", "ilgpu-cpu")]
    [InlineData(null, "OpenCL", "opencl")]
    [InlineData("  ", " cpu", "cpu")]
    public void ChoiceComesFromTheArgumentThenTheEnvironment(string? argument, string? variable, string expected)
    {
        var environment = variable is null ? Environment() : Environment((Devices.DeviceVariable, variable));
        Assert.Equal(expected, Devices.ResolveChoice(argument, environment));
    }

    [Fact]
    public void UnknownChoiceNamesTheAcceptedOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => Devices.ResolveChoice("gpu", Environment()));
        Assert.Contains("'gpu'", error.Message);
        Assert.Contains("auto, cpu, cuda, opencl, ilgpu-cpu", error.Message);
        var fromVariable = Assert.Throws<ArgumentException>(() => Devices.ResolveChoice(null, Environment((Devices.DeviceVariable, "tpu"))));
        Assert.Contains("O2RL_DEVICE", fromVariable.Message);
    }

    [Theory]
    [InlineData(false, null, false)]
    [InlineData(true, null, true)]
    [InlineData(false, "1", true)]
    [InlineData(false, "TRUE", true)]
    [InlineData(false, "0", false)]
    [InlineData(false, "yes please", false)]
    public void OpenClOverrideNeedsTheOptionOrTheVariable(bool option, string? variable, bool expected)
    {
        var environment = variable is null ? Environment() : Environment((Devices.OpenClForceGenericVariable, variable));
        Assert.Equal(expected, Devices.AllowsOpenClWithoutGenericAddressSpace(
            new DeviceOptions { AllowOpenClWithoutGenericAddressSpace = option }, environment));
    }

    [Fact]
    public void ListStartsWithTheAlwaysPresentCpuDevices()
    {
        var devices = Devices.List();
        Assert.Equal("cpu", devices[0].Choice);
        Assert.Equal(DeviceKind.Cpu, devices[0].Kind);
        Assert.Equal("ilgpu-cpu", devices[1].Choice);
        Assert.All(devices, d => Assert.Contains(d.Choice, Devices.Choices));
    }

    [Fact]
    public void CpuAndIlgpuCpuAreAlwaysCreated()
    {
        using (var cpu = Devices.Create("cpu", new DeviceOptions { CpuThreads = 1 }))
            Assert.Equal(DeviceKind.Cpu, cpu.Kind);
        using var simulator = Devices.Create("ILGPU-CPU");
        Assert.IsType<IlgpuBackend>(simulator);
        Assert.Equal(DeviceKind.IlgpuCpu, simulator.Kind);
        Assert.StartsWith("ilgpu-cpu", simulator.Name);
    }

    [Theory]
    [InlineData("cuda", "libcuda.so.1")]
    [InlineData("OpenCL", "libOpenCL.so.1")]
    [InlineData("nvcuda", null)]
    [InlineData("mujoco", null)]
    public void DriverLibrariesFallBackToTheirVersionedNames(string importName, string? expected)
    {
        // ILGPU imports "cuda" and "OpenCL"; a machine with only the driver (no -dev package) has just the .so.1 names.
        Assert.Equal(expected, DriverLibraries.VersionedName(importName));
    }

    [Fact]
    public void AbsentCudaFailsWithTheDevicesPresent()
    {
        Assert.SkipWhen(Devices.List().Any(d => d.Kind == DeviceKind.Cuda), "a CUDA device is present");
        var error = Assert.Throws<InvalidOperationException>(() => Devices.Create("cuda"));
        Assert.Contains("device 'cuda' is not available", error.Message);
        Assert.Contains("Devices present: cpu:", error.Message);
        Assert.Contains("ilgpu-cpu:", error.Message);
        using var auto = Devices.Create("auto");
        Assert.Equal(DeviceKind.Cpu, auto.Kind);
    }

    [Fact]
    public void OpenClWithoutGenericAddressSpaceNeedsTheExplicitOption()
    {
        var devices = Devices.List();
        Assert.SkipUnless(devices.Any(d => d.Kind == DeviceKind.OpenCL && d.Note is not null),
            "no OpenCL device without generic address space (PoCL) is installed");
        Assert.SkipUnless(devices.All(d => d.Kind != DeviceKind.OpenCL || d.Note is not null),
            "an OpenCL device with generic address space is present and needs no option");
        Assert.SkipWhen(System.Environment.GetEnvironmentVariable(Devices.OpenClForceGenericVariable) is not null,
            $"{Devices.OpenClForceGenericVariable} is set in this environment");

        var error = Assert.Throws<InvalidOperationException>(() => Devices.Create("opencl"));
        Assert.Contains("generic address space", error.Message);
        Assert.Contains(nameof(DeviceOptions.AllowOpenClWithoutGenericAddressSpace), error.Message);
        Assert.Contains(Devices.OpenClForceGenericVariable + "=1", error.Message);

        using var allowed = Devices.Create("opencl", new DeviceOptions { AllowOpenClWithoutGenericAddressSpace = true });
        Assert.Equal(DeviceKind.OpenCL, allowed.Kind);
    }
}
