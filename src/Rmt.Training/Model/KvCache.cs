using static TorchSharp.torch;

namespace Rmt.Training.Model;

/// <summary>Pre-allocated keys and values of every layer for incremental decoding. Long-lived: its
/// tensors are detached from any dispose scope and freed by <see cref="Dispose"/>. Inference only
/// (written in place under no_grad).</summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] keys;     // per layer (B, Hkv, Capacity, hd)
    private readonly Tensor[] values;   // per layer (B, Hkv, Capacity, hd)

    public KvCache(ModelConfig config, int batchSize, int capacity, Device device, ScalarType dtype)
    {
        if (capacity > config.MaxPositionEmbeddings)
            throw new ArgumentException(
                $"KV cache capacity {capacity} exceeds the model context ({config.MaxPositionEmbeddings} positions); shorten the prompt or max new tokens",
                nameof(capacity));
        BatchSize = batchSize;
        Capacity = capacity;
        keys = new Tensor[config.NumLayers];
        values = new Tensor[config.NumLayers];
        for (int i = 0; i < config.NumLayers; i++)
        {
            keys[i] = zeros([batchSize, config.NumKvHeads, capacity, config.HeadDim], dtype, device).DetachFromDisposeScope();
            values[i] = zeros([batchSize, config.NumKvHeads, capacity, config.HeadDim], dtype, device).DetachFromDisposeScope();
        }
    }

    public int BatchSize { get; }
    public int Capacity { get; }

    /// <summary>Positions already written (the same for every sequence; padding is masked, not skipped).</summary>
    public int Length { get; private set; }

    /// <summary>Writes k, v (B, Hkv, T, hd) of one layer at [Length, Length + T) and returns views of
    /// everything cached so far (B, Hkv, Length + T, hd).</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache is full: {Length} + {t} positions exceed its capacity {Capacity}");
        using (var kSlot = keys[layer].narrow(2, Length, t)) kSlot.copy_(k);
        using (var vSlot = values[layer].narrow(2, Length, t)) vSlot.copy_(v);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>Called by the model once all layers have appended a step of T positions.</summary>
    internal void Advance(int t) => Length += t;

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
