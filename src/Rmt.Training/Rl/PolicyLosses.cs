using static TorchSharp.torch;

namespace Rmt.Training.Rl;

// The RL objectives, one small class each. All take per-token tensors over response positions,
// shape (N, T) for N responses padded to T tokens, with a float mask (N, T) that is 1 on the tokens
// the loss covers. Token-level normalisation: every loss is a sum over all masked tokens of the
// batch divided by the number of masked tokens, so long responses weigh by their length (DAPO
// style) instead of each response counting once.

/// <summary>Sum over masked tokens / number of masked tokens (at least 1, so an empty mask gives 0).
/// <paramref name="tokenCount"/> replaces the count when the rows given are a subset of the batch
/// (rows with zero advantage left out to save compute): the loss stays the batch's token mean.</summary>
public static class TokenMean
{
    public static Tensor Of(Tensor perToken, Tensor mask, double? tokenCount = null)
    {
        using var scope = NewDisposeScope();
        var sum = (perToken * mask).sum();                                           // ()
        var mean = tokenCount is double n ? sum / Math.Max(n, 1.0) : sum / mask.sum().clamp_min(1.0); // ()
        return mean.MoveToOuterDisposeScope();
    }
}

/// <summary>GRPO / PPO clipped surrogate: <c>-min(rho A, clip(rho, 1-eps, 1+eps) A)</c> per token with
/// <c>rho = exp(log pi - log pi_old)</c>. Without clipping it is the plain policy gradient
/// <c>-rho A</c>; with one update per rollout batch rho = 1 and both give the REINFORCE gradient.</summary>
public sealed class GrpoPolicyLoss(bool clip, double clipRange)
{
    public bool ClipEnabled { get; } = clip;
    public double ClipRange { get; } = clipRange;

    /// <param name="logProbs">(N, T) log pi(token) under the current policy, with gradients.</param>
    /// <param name="oldLogProbs">(N, T) log pi_old(token) of the policy that sampled (no gradients).</param>
    /// <param name="advantages">(N) one advantage per response.</param>
    /// <param name="mask">(N, T) 1 on scored response tokens.</param>
    /// <param name="batchTokens">Response tokens of the whole rollout batch when only some of its
    /// rows are given (see <see cref="TokenMean"/>); null = the mask's own count.</param>
    public Tensor Compute(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask, double? batchTokens = null)
    {
        using var scope = NewDisposeScope();
        var ratio = (logProbs - oldLogProbs.detach()).exp();                          // (N, T)
        var a = advantages.unsqueeze(1);                                               // (N, 1)
        var surrogate = ratio * a;                                                     // (N, T)
        if (ClipEnabled)
        {
            var clipped = ratio.clamp(1.0 - ClipRange, 1.0 + ClipRange) * a;           // (N, T)
            surrogate = minimum(surrogate, clipped);                                   // (N, T)
        }
        return TokenMean.Of(-surrogate, mask, batchTokens).MoveToOuterDisposeScope();  // ()
    }
}

/// <summary>KL(pi || pi_ref) per token with Schulman's k3 estimator, <c>exp(d) - d - 1</c> where
/// <c>d = log pi_ref - log pi</c>: unbiased, always non-negative, low variance.</summary>
public sealed class KlPenalty(double weight)
{
    public double Weight { get; } = weight;

    /// <param name="logProbs">(N, T) current policy, with gradients.</param>
    /// <param name="referenceLogProbs">(N, T) frozen reference policy.</param>
    /// <param name="mask">(N, T).</param>
    public Tensor Compute(Tensor logProbs, Tensor referenceLogProbs, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var d = referenceLogProbs.detach() - logProbs;                                // (N, T)
        var k3 = d.exp() - d - 1.0;                                                    // (N, T)
        return (TokenMean.Of(k3, mask) * Weight).MoveToOuterDisposeScope();            // ()
    }
}

/// <summary>Next-token cross-entropy averaged over the masked target positions.</summary>
public sealed class NextTokenLoss
{
    /// <param name="logits">(B, T, V) predictions for the token after each position.</param>
    /// <param name="targets">(B, T) int64 target ids.</param>
    /// <param name="mask">(B, T) float, 1 where the target counts.</param>
    public Tensor Compute(Tensor logits, Tensor targets, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var logProbs = logits.log_softmax(-1);                                          // (B, T, V)
        var nll = -logProbs.gather(-1, targets.unsqueeze(-1)).squeeze(-1);             // (B, T)
        return TokenMean.Of(nll, mask).MoveToOuterDisposeScope();                        // ()
    }
}

/// <summary>The terms of one step and their weighted total <c>L = L_RL + lambda L_NTP</c>, where
/// <c>L_RL = L_policy + beta KL</c> (beta is inside the KL term).</summary>
public sealed record LossTerms(double Total, double Policy, double Kl, double Ntp);

/// <summary>Combines the objective terms of one step; a missing term contributes 0.</summary>
public sealed class DualObjective(double ntpWeight)
{
    public double NtpWeight { get; } = ntpWeight;

    /// <summary>The total loss tensor (scalar, differentiable) and its parts as numbers.</summary>
    public (Tensor Loss, LossTerms Terms) Combine(Tensor? policy, Tensor? kl, Tensor? ntp)
    {
        if (policy is null && kl is null && ntp is null)
            throw new ArgumentException("no loss term given: a step needs the policy loss, the NTP loss or both");
        using var scope = NewDisposeScope();
        Tensor? total = null;
        if (policy is not null) total = policy;
        if (kl is not null) total = total is null ? kl : total + kl;
        if (ntp is not null && NtpWeight > 0) total = total is null ? ntp * NtpWeight : total + ntp * NtpWeight;
        total ??= ntp! * 0.0;
        var terms = new LossTerms(
            total.item<float>(),
            policy?.item<float>() ?? 0.0,
            kl?.item<float>() ?? 0.0,
            ntp?.item<float>() ?? 0.0);
        return (total.MoveToOuterDisposeScope(), terms);
    }
}
