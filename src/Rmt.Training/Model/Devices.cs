using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Model;

/// <summary>Turns a configured device name ("cpu", "cuda", "cuda:N") into a TorchSharp device,
/// initialising the CUDA backend first (TorchSharp needs that before cuda.is_available()).</summary>
public static class Devices
{
    public static Device Parse(string name)
    {
        if (name == "cpu") return CPU;
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            InitializeDeviceType(DeviceType.CUDA);
            if (!cuda.is_available())
                throw new InvalidOperationException(
                    $"device '{name}' was requested but CUDA is not available: this build references TorchSharp-cpu, or no CUDA libtorch/GPU was found. " +
                    "Build with -p:TorchBackend=external and run with a CUDA libtorch on LD_LIBRARY_PATH (see docs/gpu.md), or use device \"cpu\"");
            return name == "cuda" ? CUDA : new Device(name);
        }
        throw new ArgumentException($"device '{name}' is not valid; use \"cpu\", \"cuda\" or \"cuda:N\"", nameof(name));
    }

    /// <summary>Mixed-precision compute dtype: bfloat16 on CUDA, none (the parameter dtype) on the CPU.</summary>
    public static ScalarType? AutocastDtype(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : null;
}
