using static TorchSharp.torch;

namespace Rmt.Training.Model;

/// <summary>While alive on this thread, casts of master weights to the compute dtype (bf16 on CUDA)
/// are made once and reused, instead of once per forward. For inference only, while the weights do
/// not change: generation holds one for its whole decode loop.</summary>
public sealed class WeightCastCache : IDisposable
{
    [ThreadStatic] private static WeightCastCache? current;
    private readonly WeightCastCache? previous;
    private readonly Dictionary<Tensor, Tensor> casts = new(ReferenceEqualityComparer.Instance);

    public WeightCastCache()
    {
        previous = current;
        current = this;
    }

    /// <summary><paramref name="weight"/> in <paramref name="dtype"/>, as a new handle the caller disposes.</summary>
    internal static Tensor Cast(Tensor weight, ScalarType dtype)
    {
        if (weight.dtype == dtype) return weight.alias();
        var cache = current;
        if (cache is null || is_grad_enabled()) return weight.to(dtype);
        if (!cache.casts.TryGetValue(weight, out var cast))
        {
            using (no_grad()) cast = weight.to(dtype).DetachFromDisposeScope();
            cache.casts[weight] = cast;
        }
        return cast.alias();
    }

    public void Dispose()
    {
        foreach (var t in casts.Values) t.Dispose();
        casts.Clear();
        current = previous;
    }
}
