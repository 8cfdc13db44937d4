using System.Runtime.CompilerServices;

namespace Rmt.Training.Tests;

/// <summary>TorchSharp 0.107 lets the GC finalize an implicitly created Scalar while libtorch still
/// reads it (docs/torchsharp-scalar-race.md; experiments/scalar-race reproduces it). Test hosts run
/// with DOTNET_JITMinOpts=1 (tests/test.runsettings), under which the JIT keeps every local and
/// argument alive until its method returns. This checks that property itself, so a test host started
/// without the setting fails here instead of flaking in a training test.</summary>
public class TorchSharpScalarRaceTests
{
    [Fact]
    public void The_test_host_keeps_a_dead_local_alive_until_its_method_returns()
    {
        Assert.True(LocalSurvivesACollection(),
            "an optimized local was collected before its method returned: run tests through ./test.sh or " +
            "`dotnet test` (tests/test.runsettings sets DOTNET_JITMinOpts=1); see docs/torchsharp-scalar-race.md");
    }

    // Optimized code stops reporting `o` after its last use, so the collection frees it (measured:
    // alive=False without the setting, True with it); this is exactly what happens to the Scalar in
    // TorchSharp's `add(target) => add(target, 1)` while the native add runs.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static bool LocalSurvivesACollection()
    {
        var o = new object();
        var weak = new WeakReference(o);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return weak.IsAlive;
    }
}
