namespace Rmt.Training.Optimization;

/// <summary>A 32-bit seed derived from (seed, index) with SplitMix64: the same on every process and
/// platform. Per-step and per-batch randomness comes from here so that a resumed or rerun job draws
/// exactly what the first one drew. (.NET's <c>HashCode.Combine</c> is randomised per process and
/// must never seed anything that has to be reproduced.)</summary>
public static class StableSeed
{
    public static int Mix(long seed, long index)
    {
        unchecked
        {
            ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z & 0x7FFFFFFF);
        }
    }
}
