using static TorchSharp.torch;

namespace Rmt.Training.Optimization;

/// <summary>One micro-batch for next-token prediction: targets are inputs shifted by one; the loss
/// mask (1 = counts) selects positions, null means all.</summary>
public sealed record TokenBatch(Tensor Inputs, Tensor Targets, Tensor? LossMask) : IDisposable
{
    public long TokenCount => Inputs.numel();

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        LossMask?.Dispose();
    }
}

/// <summary>A source of micro-batches addressed by index. Batch k depends only on k (and the
/// source's seed), so the data position of a resumed run is just the number of batches consumed.</summary>
public interface ITokenBatchSource
{
    TokenBatch Batch(long index, int batchSize, Device device);
}

/// <summary>Random windows of <c>SequenceLength + 1</c> tokens from one token stream (nanoGPT
/// style). Window offsets of batch k come from a generator seeded by (seed, k).</summary>
public sealed class TokenWindows : ITokenBatchSource
{
    private readonly int[] tokens;

    public TokenWindows(int[] tokens, int sequenceLength, int seed)
    {
        if (tokens.Length < sequenceLength + 2)
            throw new ArgumentException($"token stream has {tokens.Length} tokens; windows of {sequenceLength} + 1 need at least {sequenceLength + 2}", nameof(tokens));
        this.tokens = tokens;
        SequenceLength = sequenceLength;
        Seed = seed;
    }

    public int SequenceLength { get; }
    public int Seed { get; }
    public int Length => tokens.Length;

    /// <summary>Splits a token stream into a training head and a validation tail.</summary>
    public static (int[] Train, int[] Validation) Split(int[] tokens, double validationFraction = 0.1)
    {
        int cut = (int)(tokens.Length * (1.0 - validationFraction));
        return (tokens[..cut], tokens[cut..]);
    }

    public TokenBatch Batch(long index, int batchSize, Device device)
    {
        var random = new Random(StableSeed.Mix(Seed, index));
        int t = SequenceLength;
        var inputs = new long[batchSize * t];
        var targets = new long[batchSize * t];
        for (int row = 0; row < batchSize; row++)
        {
            int offset = random.Next(0, tokens.Length - t - 1);
            for (int j = 0; j < t; j++)
            {
                inputs[row * t + j] = tokens[offset + j];
                targets[row * t + j] = tokens[offset + j + 1];
            }
        }
        using var cpuInputs = tensor(inputs, [batchSize, t], int64);
        using var cpuTargets = tensor(targets, [batchSize, t], int64);
        return new TokenBatch(
            cpuInputs.to(device).DetachFromDisposeScope(),   // (B, T)
            cpuTargets.to(device).DetachFromDisposeScope(),  // (B, T)
            null);
    }
}

