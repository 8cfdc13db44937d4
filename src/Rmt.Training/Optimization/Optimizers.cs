using Rmt.Training.Model;
using TorchSharp;
using TorchSharp.Modules;

namespace Rmt.Training.Optimization;

/// <summary>The optimizer every trainer uses, so checkpoints of one trainer resume in another.</summary>
public static class Optimizers
{
    /// <summary>AdamW with weight decay on matrices and embeddings (dim >= 2) and none on norms and
    /// biases, as in nanoGPT. Set the learning rate per step through <c>ParamGroups</c>.</summary>
    public static AdamW AdamW(CausalLM model, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        var decay = model.parameters().Where(p => p.dim() >= 2).ToList();
        var noDecay = model.parameters().Where(p => p.dim() < 2).ToList();
        return torch.optim.AdamW(
            [new AdamW.ParamGroup(decay, new AdamW.Options { weight_decay = weightDecay }),
             new AdamW.ParamGroup(noDecay, new AdamW.Options { weight_decay = 0.0 })],
            lr: learningRate, beta1: beta1, beta2: beta2, eps: eps, weight_decay: weightDecay);
    }

    /// <summary>Sets the learning rate of every parameter group.</summary>
    public static void SetLearningRate(OptimizerHelper optimizer, double learningRate)
    {
        foreach (var group in ((torch.optim.Optimizer)optimizer).ParamGroups) group.LearningRate = learningRate;
    }
}
