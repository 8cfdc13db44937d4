using System.Runtime.CompilerServices;

// Test classes run one at a time: they share libtorch's process-wide state (the default generator
// that exact-resume tests capture and restore, manual seeds, native scalars). A fresh-clone CI run
// with classes in parallel failed 4 tests with libtorch "Expected false to be true" (Scalar::toFloat
// inside add) and resume mismatches, which pass when run alone.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Rmt.Training.Tests;

internal static class TestSetup
{
    /// <summary>One intra-op thread: on a shared 2-core build machine torch's spinning worker threads
    /// made steps ~10x slower (measured: 686 ms vs 72 ms per micro-model step under load 18), and one
    /// thread keeps CPU results reproducible.</summary>
#pragma warning disable CA2255 // a test assembly is the place for process-wide setup
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void SingleThreadedTorch() => TorchSharp.torch.set_num_threads(1);
}
