using static TorchSharp.torch;

namespace Rmt.Training.Tests.Native;

/// <summary>TorchSharp's native library loads on this machine (build/PatchGlibcxx.cs) and computes.</summary>
public sealed class NativeLibraryTests
{
    [Fact]
    public void Libtorch_loads_and_computes()
    {
        using var x = arange(1, 5, dtype: ScalarType.Float32); // (4,) = 1 2 3 4
        using var total = x.sum();

        Assert.Equal(10f, total.item<float>());
    }
}
