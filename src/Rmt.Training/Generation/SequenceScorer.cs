using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.Training.Generation;

/// <summary>Teacher-forced scoring of given sequences, differentiable: the policy-gradient losses
/// use it for log pi(token | prefix) with gradients.</summary>
public static class SequenceScorer
{
    /// <summary>log p(ids[:, t+1] | ids[:, :t+1]) for t = 0..T-2, shape (B, T-1), under
    /// softmax(logits / temperature). Gradients flow when grad mode is on.</summary>
    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="attentionMask">(B, T) 1 for real tokens, 0 for (left) padding; null when none.
    /// Positions follow the mask, so left-padded rows score as if unpadded.</param>
    public static Tensor TokenLogProbs(CausalLM model, Tensor inputIds, Tensor? attentionMask = null, double temperature = 1.0)
    {
        var (logProbs, entropy) = Score(model, inputIds, attentionMask, temperature, withEntropy: false);
        entropy?.Dispose();
        return logProbs;
    }

    /// <summary>Log-probs (B, T-1) as <see cref="TokenLogProbs"/> and the entropy (nats) of each
    /// predictive distribution (B, T-1).</summary>
    public static (Tensor LogProbs, Tensor Entropy) TokenLogProbsAndEntropy(CausalLM model, Tensor inputIds, Tensor? attentionMask = null, double temperature = 1.0)
    {
        var (logProbs, entropy) = Score(model, inputIds, attentionMask, temperature, withEntropy: true);
        return (logProbs, entropy!);
    }

    private static (Tensor, Tensor?) Score(CausalLM model, Tensor inputIds, Tensor? attentionMask, double temperature, bool withEntropy)
    {
        if (temperature <= 0) throw new ArgumentException($"temperature is {temperature}; it must be positive", nameof(temperature));
        using var scope = NewDisposeScope();
        long t = inputIds.shape[1];
        var positions = attentionMask is null ? null : Positions.FromMask(attentionMask);   // (B, T)
        var logits = model.Forward(inputIds, positions, attentionMask);                      // (B, T, V)
        logits = logits.narrow(1, 0, t - 1);                                                  // (B, T-1, V)
        if (temperature != 1.0) logits = logits / temperature;
        var targets = inputIds.narrow(1, 1, t - 1).unsqueeze(-1);                             // (B, T-1, 1)
        var normalizer = logits.logsumexp(-1);                                                // (B, T-1)
        var logProbs = logits.gather(-1, targets).squeeze(-1) - normalizer;                   // (B, T-1)
        Tensor? entropy = null;
        if (withEntropy)
        {
            var all = logits.log_softmax(-1);                                                 // (B, T-1, V)
            entropy = -(all.exp() * all).sum(-1);                                             // (B, T-1)
            entropy.MoveToOuterDisposeScope();
        }
        return (logProbs.MoveToOuterDisposeScope(), entropy);
    }
}
