using Rmt.Contracts;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rmt.Training.Rl;

/// <summary>AdamW (betas 0.9 / 0.95, decay on matrices only) with linear warm-up then cosine decay to 10% of the peak rate,
/// and global gradient-norm clipping, driven by a <see cref="TrainingSchedule"/>. Owns the optimizer
/// state (long-lived tensors outside every step scope).</summary>
public sealed class PolicyOptimizer : IDisposable
{
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly TrainingSchedule schedule;
    private readonly AdamW adam;

    public PolicyOptimizer(nn.Module model, TrainingSchedule schedule)
    {
        parameters = [.. model.parameters()];
        this.schedule = schedule;
        // Decay matrices and embeddings only; norms and biases are not decayed (nanoGPT).
        var decay = parameters.Where(p => p.dim() >= 2).ToList();
        var noDecay = parameters.Where(p => p.dim() < 2).ToList();
        adam = optim.AdamW(
            [new AdamW.ParamGroup(decay, new AdamW.Options { weight_decay = schedule.WeightDecay }),
             new AdamW.ParamGroup(noDecay, new AdamW.Options { weight_decay = 0.0 })],
            lr: schedule.LearningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: schedule.WeightDecay);
    }

    /// <summary>Learning rate at a step (0-based): warm-up, then cosine to 0.1 x peak at the last step.</summary>
    public static double LearningRateAt(TrainingSchedule s, int step)
    {
        if (s.WarmupSteps > 0 && step < s.WarmupSteps) return s.LearningRate * (step + 1) / s.WarmupSteps;
        int decaySteps = Math.Max(1, s.Steps - s.WarmupSteps);
        double progress = Math.Clamp((double)(step - s.WarmupSteps) / decaySteps, 0.0, 1.0);
        double floor = 0.1 * s.LearningRate;
        return floor + (s.LearningRate - floor) * 0.5 * (1.0 + Math.Cos(Math.PI * progress));
    }

    /// <summary>The TorchSharp optimizer, for saving and restoring its state with a checkpoint.</summary>
    public OptimizerHelper Inner => adam;

    public void ZeroGrad() => adam.zero_grad();

    /// <summary>Clips the gradients, sets the step's learning rate and applies AdamW. Returns the
    /// gradient norm before clipping.</summary>
    public double Step(int step)
    {
        double norm = schedule.GradClip > 0
            ? nn.utils.clip_grad_norm_(parameters, schedule.GradClip)
            : double.NaN;
        foreach (var group in adam.ParamGroups) group.LearningRate = LearningRateAt(schedule, step);
        adam.step();
        return norm;
    }

    public void Dispose() => adam.Dispose();
}
