using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Rmt.Training.Rl;

/// <summary>The shared AdamW of every trainer (<see cref="Optimizers.AdamW"/>: betas 0.9 / 0.95, decay
/// on matrices only) driven by a <see cref="TrainingSchedule"/>: linear warm-up then cosine decay to
/// 10% of the peak (<see cref="CosineSchedule"/>), global gradient-norm clipping. Owns the optimizer
/// state (long-lived tensors outside every step scope), so RL checkpoints resume like NTP ones.</summary>
public sealed class PolicyOptimizer : IDisposable
{
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly TrainingSchedule schedule;
    private readonly CosineSchedule lr;
    private readonly AdamW adam;

    public PolicyOptimizer(CausalLM model, TrainingSchedule schedule)
    {
        parameters = [.. model.parameters()];
        this.schedule = schedule;
        lr = Schedule(schedule);
        adam = Optimizers.AdamW(model, schedule.LearningRate, schedule.WeightDecay);
    }

    private static CosineSchedule Schedule(TrainingSchedule s) => new(s.LearningRate, s.WarmupSteps, s.Steps);

    /// <summary>Learning rate at a step (0-based).</summary>
    public static double LearningRateAt(TrainingSchedule s, int step) => Schedule(s).At(step);

    /// <summary>The TorchSharp optimizer, for saving and restoring its state with a checkpoint.</summary>
    public OptimizerHelper Inner => adam;

    public void ZeroGrad() => adam.zero_grad();

    /// <summary>Clips the gradients, sets the step's learning rate and applies AdamW. Returns the
    /// gradient norm before clipping (NaN when clipping is off).</summary>
    public double Step(int step)
    {
        double norm = schedule.GradClip > 0
            ? nn.utils.clip_grad_norm_(parameters, schedule.GradClip)
            : double.NaN;
        Optimizers.SetLearningRate(adam, lr.At(step));
        adam.step();
        return norm;
    }

    public void Dispose() => adam.Dispose();
}
