using Rmt.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>The compute precision per device (Devices.Choose): bf16 only where the GPU runs it natively.</summary>
public sealed class PrecisionTests
{
    [Theory]
    [InlineData("cuda", "9.0", "bf16", ScalarType.BFloat16)]  // H100
    [InlineData("cuda", "8.9", "bf16", ScalarType.BFloat16)]  // L4, RTX 40xx
    [InlineData("cuda", "8.0", "bf16", ScalarType.BFloat16)]  // A100 (Consumption-GPU-NC24-A100)
    [InlineData("cuda", "7.5", "fp32", null)]                 // T4 (Consumption-GPU-NC8as-T4): bf16 only emulated
    [InlineData("cuda", "7.0", "fp32", null)]                 // V100
    [InlineData("cuda", null, "fp32", null)]                  // the driver could not be asked
    [InlineData("cpu", null, "fp32", null)]
    [InlineData("cpu", "9.0", "fp32", null)]                  // a capability means nothing off CUDA
    public void Precision_follows_the_compute_capability(string device, string? capability, string name, ScalarType? dtype)
    {
        var type = device == "cuda" ? DeviceType.CUDA : DeviceType.CPU;
        var precision = Devices.Choose(type, capability is null ? null : Version.Parse(capability));
        Assert.Equal(name, precision.Name);
        Assert.Equal(dtype, precision.ComputeDtype);
        if (capability is not null && type == DeviceType.CUDA) Assert.Contains(capability, precision.Reason, StringComparison.Ordinal);
        Assert.StartsWith(name + " (", precision.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_cpu_trains_without_autocast()
    {
        Assert.Null(Devices.AutocastDtype(CPU));
        Assert.Equal("fp32", Devices.PrecisionOf(CPU).Name);
    }
}
