using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Rmt.Training.Optimization;

/// <summary>Next-token cross-entropy averaged over the positions a mask selects.</summary>
public static class NtpLoss
{
    /// <param name="logits">(B, T, V) float32.</param>
    /// <param name="targets">(B, T) int64 next tokens.</param>
    /// <param name="mask">(B, T) 1 where the position counts; null counts every position.</param>
    /// <returns>Scalar mean loss in nats (0 when the mask selects nothing).</returns>
    public static Tensor Compute(Tensor logits, Tensor targets, Tensor? mask = null)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var perToken = F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), reduction: nn.Reduction.None); // (B*T)
        if (mask is null) return perToken.mean().MoveToOuterDisposeScope();
        var weights = mask.reshape(-1).to(perToken.dtype);                                          // (B*T)
        return ((perToken * weights).sum() / weights.sum().clamp_min(1.0)).MoveToOuterDisposeScope();
    }
}

/// <summary>The loss of predicting every token by its training-set frequency: the bar a language
/// model must clear to show it learned context.</summary>
public static class UnigramBaseline
{
    /// <summary>Cross-entropy (nats) of <paramref name="evaluation"/> under add-one-smoothed unigram
    /// frequencies of <paramref name="training"/>.</summary>
    public static double CrossEntropy(int[] training, int[] evaluation, int vocabSize)
    {
        var counts = new double[vocabSize];
        foreach (int t in training) counts[t] += 1;
        double total = training.Length + vocabSize;
        double sum = 0;
        foreach (int t in evaluation) sum -= Math.Log((counts[t] + 1) / total);
        return sum / evaluation.Length;
    }
}
