using Rmt.Training.Rl;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.Rl;

public sealed class PolicyLossTests
{
    [Fact]
    public void On_policy_GRPO_loss_is_minus_the_token_mean_advantage_and_its_gradient_is_REINFORCE()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { -0.5f, -1.0f, -2.0f, -0.1f }, [2, 2]).requires_grad_(true); // (N=2, T=2)
        var old = logits.detach().clone();
        var adv = tensor(new float[] { 1.0f, -2.0f });
        var mask = tensor(new float[] { 1, 1, 1, 0 }, [2, 2]);
        var loss = new GrpoPolicyLoss(clip: true, clipRange: 0.2).Compute(logits, old, adv, mask);
        // ratio = 1 everywhere: loss = -(1 + 1 - 2) / 3 = 0
        Assert.Equal(0.0, loss.item<float>(), 6);
        loss.backward();
        var grad = logits.grad!.data<float>().ToArray();
        float[] expected = [-1f / 3, -1f / 3, 2f / 3, 0f];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], grad[i], 5);
    }

    [Fact]
    public void Clipping_caps_the_ratio_for_positive_advantages()
    {
        using var scope = NewDisposeScope();
        var current = tensor(new float[] { MathF.Log(2f) }, [1, 1]);     // ratio 2
        var old = zeros(1, 1);
        var mask = ones(1, 1);
        var clipped = new GrpoPolicyLoss(true, 0.2).Compute(current, old, tensor(new float[] { 1f }), mask);
        var unclipped = new GrpoPolicyLoss(false, 0.2).Compute(current, old, tensor(new float[] { 1f }), mask);
        Assert.Equal(-1.2, clipped.item<float>(), 5);
        Assert.Equal(-2.0, unclipped.item<float>(), 5);
        // negative advantage: min picks the unclipped (more pessimistic) -2 * -1 = 2
        var negative = new GrpoPolicyLoss(true, 0.2).Compute(current, old, tensor(new float[] { -1f }), mask);
        Assert.Equal(2.0, negative.item<float>(), 5);
    }

    [Fact]
    public void K3_KL_is_zero_for_equal_policies_and_matches_the_formula()
    {
        using var scope = NewDisposeScope();
        var mask = ones(1, 2);
        var same = new KlPenalty(1.0).Compute(tensor(new float[] { -1f, -2f }, [1, 2]), tensor(new float[] { -1f, -2f }, [1, 2]), mask);
        Assert.Equal(0.0, same.item<float>(), 7);
        var kl = new KlPenalty(0.5).Compute(tensor(new float[] { -1f, -1f }, [1, 2]), tensor(new float[] { -2f, -1f }, [1, 2]), mask);
        double d = -1.0; // ref - logp on the first token
        double expected = 0.5 * ((Math.Exp(d) - d - 1) + 0) / 2;
        Assert.Equal(expected, kl.item<float>(), 6);
    }

    [Fact]
    public void NTP_loss_is_the_masked_mean_cross_entropy_and_the_total_is_RL_plus_lambda_NTP()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 0, 0, 0, 0, 10, 0 }, [1, 2, 3]);     // (B=1, T=2, V=3)
        var targets = tensor(new long[] { 1, 0 }, [1, 2]);
        var ntp = new NextTokenLoss().Compute(logits, targets, tensor(new float[] { 1, 0 }, [1, 2]));
        Assert.Equal(Math.Log(3), ntp.item<float>(), 5);
        var (total, terms) = new DualObjective(0.1).Combine(tensor(2.0f), tensor(0.5f), ntp);
        Assert.Equal(2.5 + 0.1 * Math.Log(3), total.item<float>(), 5);
        Assert.Equal(2.0, terms.Policy, 6);
        Assert.Equal(0.5, terms.Kl, 6);
        Assert.Equal(Math.Log(3), terms.Ntp, 5);
        Assert.Throws<ArgumentException>(() => new DualObjective(0.1).Combine(null, null, null));
    }
}
