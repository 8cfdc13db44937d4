using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Model;

/// <summary>The arithmetic a device trains in: the compute dtype of the forward and backward pass
/// (float32 master weights always), and why it was chosen.</summary>
public sealed record Precision(string Name, ScalarType? ComputeDtype, string Reason)
{
    public override string ToString() => $"{Name} ({Reason})";
}

/// <summary>Turns a configured device name ("cpu", "cuda", "cuda:N") into a TorchSharp device,
/// initialising the CUDA backend first (TorchSharp needs that before cuda.is_available()), and
/// chooses the compute precision a device trains in.</summary>
public static class Devices
{
    /// <summary>The first compute capability with native bf16 tensor-core math (Ampere: A100 is 8.0).</summary>
    public static readonly Version NativeBf16Capability = new(8, 0);

    private static readonly ConcurrentDictionary<int, Precision> CudaPrecisions = new();

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

    /// <summary>Mixed-precision compute dtype of <paramref name="device"/>: see <see cref="PrecisionOf"/>.</summary>
    public static ScalarType? AutocastDtype(Device device) => PrecisionOf(device).ComputeDtype;

    /// <summary>The precision <paramref name="device"/> trains in, decided once per device from its
    /// compute capability (<see cref="Choose"/>).</summary>
    public static Precision PrecisionOf(Device device)
    {
        if (device.type != DeviceType.CUDA) return Choose(device.type, null);
        var ordinal = Math.Max(0, (int)device.index);
        return CudaPrecisions.GetOrAdd(ordinal, o => Choose(DeviceType.CUDA, CudaCapability.Of(o)));
    }

    /// <summary>The decision table. CPU: float32. CUDA with compute capability 8.0 or newer (A100,
    /// H100, L4, ...): bf16 autocast, which the tensor cores run natively and which needs no loss
    /// scaling. Older CUDA devices (T4 is 7.5, V100 7.0) only emulate bf16, slowly: float32. The other
    /// choice there, fp16 autocast, would need dynamic loss scaling in every trainer (fp16 gradients
    /// underflow), which the trainers do not have; float32 is correct everywhere and still uses the GPU.
    /// An unknown capability (the driver could not be asked) also gets float32.</summary>
    public static Precision Choose(DeviceType type, Version? capability)
    {
        if (type != DeviceType.CUDA) return new Precision("fp32", null, $"{type.ToString().ToLowerInvariant()} computes in float32");
        if (capability is null)
            return new Precision("fp32", null, "CUDA compute capability unknown (the driver could not be asked), so float32 to be safe");
        var cc = capability.ToString(2);
        return capability >= NativeBf16Capability
            ? new Precision("bf16", ScalarType.BFloat16, $"CUDA compute capability {cc} >= {NativeBf16Capability.ToString(2)}: native bf16, float32 master weights")
            : new Precision("fp32", null, $"CUDA compute capability {cc} < {NativeBf16Capability.ToString(2)}: bf16 is only emulated there, and fp16 would need loss scaling");
    }

    /// <summary>Asks the NVIDIA driver (libcuda, always present where CUDA runs) for a device's
    /// compute capability; TorchSharp 0.107 has no get_device_capability.</summary>
    private static class CudaCapability
    {
        private const int AttributeMajor = 75; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        private const int AttributeMinor = 76; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int CuInit(uint flags);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int CuDeviceGet(out int device, int ordinal);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate int CuDeviceGetAttribute(out int value, int attribute, int device);

        public static Version? Of(int ordinal)
        {
            var library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
            // Stays loaded: libtorch's CUDA backend has it loaded already.
            if (!NativeLibrary.TryLoad(library, out var handle)) return null;
            var init = Function<CuInit>(handle, "cuInit");
            var get = Function<CuDeviceGet>(handle, "cuDeviceGet");
            var attribute = Function<CuDeviceGetAttribute>(handle, "cuDeviceGetAttribute");
            if (init is null || get is null || attribute is null) return null;
            if (init(0) != 0 || get(out var device, ordinal) != 0) return null;
            if (attribute(out var major, AttributeMajor, device) != 0 || attribute(out var minor, AttributeMinor, device) != 0) return null;
            return new Version(major, minor);
        }

        private static T? Function<T>(IntPtr library, string name) where T : Delegate =>
            NativeLibrary.TryGetExport(library, name, out var address) ? Marshal.GetDelegateForFunctionPointer<T>(address) : null;
    }
}
