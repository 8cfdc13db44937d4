using System.Runtime.CompilerServices;

namespace Rmt.Jobs.Tests;

internal static class TestSetup
{
    /// <summary>One torch thread: on the shared 2-core build machine torch's spinning workers make
    /// tiny-model steps many times slower, and one thread keeps CPU results reproducible.</summary>
#pragma warning disable CA2255 // a test assembly is the place for process-wide setup
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void SingleThreadedTorch() => TorchSharp.torch.set_num_threads(1);
}
