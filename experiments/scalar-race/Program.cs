// Reproduces TorchSharp 0.107's scalar use-after-free (docs/torchsharp-scalar-race.md).
//   dotnet ScalarRace.dll [seconds] [implicit|kept]
// The main thread adds and squares small tensors the way model code does (`x + y`, `x.pow(2)`); a
// second thread keeps triggering gen-0 collections, as test runners, SDK clients and progress
// publishers do in our processes. With `implicit`, TorchSharp creates a Scalar for the `1` of `x + y`
// and the `2` of `pow`, and optimized code lets the GC finalize it while libtorch still reads it:
// the process dies with "Expected false to be true ... toFloat at c10/core/Scalar.h". With `kept`, the
// Scalars are ours and stay referenced; it never dies. Run several copies at once (run.sh) so the
// main thread gets preempted inside the native call, as on a busy 2-core machine.
using System.Diagnostics;
using TorchSharp;

var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20;
var keepScalars = args.Length > 1 && args[1] == "kept";
torch.set_num_threads(1);

var stop = false;
var collector = new Thread(() => { while (!Volatile.Read(ref stop)) GC.Collect(0); }) { IsBackground = true };
collector.Start();

using var x = torch.randn(64, 64);
using var y = torch.randn(64, 64);
using Scalar one = 1, two = 2;
var clock = Stopwatch.StartNew();
long steps = 0;
while (clock.Elapsed.TotalSeconds < seconds)
{
    using var sum = keepScalars ? x.add(y, one) : x + y;
    using var square = keepScalars ? x.pow(two) : x.pow(2);
    steps++;
}
Volatile.Write(ref stop, true);
Console.WriteLine($"survived: {(keepScalars ? "kept" : "implicit")} scalars, {steps} steps, {GC.CollectionCount(0)} gen-0 collections, " +
                  $"DOTNET_JITMinOpts={Environment.GetEnvironmentVariable("DOTNET_JITMinOpts") ?? "unset"}");
