namespace Rmt.Training.Optimization;

/// <summary>Linear warm-up to the peak learning rate, then cosine decay to
/// <c>PeakLr * MinLrRatio</c> at <c>TotalSteps</c>. A pure function of the step, so resuming needs
/// only the step count.</summary>
public sealed record CosineSchedule(double PeakLr, int WarmupSteps, int TotalSteps, double MinLrRatio = 0.1)
{
    /// <summary>Learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0.0, 1.0);
        double minLr = PeakLr * MinLrRatio;
        return minLr + 0.5 * (PeakLr - minLr) * (1.0 + Math.Cos(Math.PI * progress));
    }
}
