using Rmt.Contracts;

namespace Rmt.Training.MidTraining;

/// <summary>The paper's dynamic token budget <c>B_t = max(B_min, floor(B_0 * gamma^(t/T)))</c> for
/// step t of T (0-based t; B_0 at the first step, gamma*B_0 after the last). A tolerance of 1e-9
/// inside the floor keeps exact products such as 800 * 0.2 = 160 from flooring to 159.
/// Disabled: null (no hint in the prompt, no length reward).</summary>
public sealed class BudgetSchedule(BudgetConfig config, int totalSteps)
{
    public BudgetConfig Config { get; } = config;
    public int TotalSteps { get; } = totalSteps > 0 ? totalSteps : throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "total steps must be positive");

    public int? At(int step) => Config.Enabled ? Value(step) : null;

    /// <summary>B_t regardless of <see cref="BudgetConfig.Enabled"/>.</summary>
    public int Value(int step)
    {
        double decayed = Config.Initial * Math.Pow(Config.Gamma, (double)step / TotalSteps);
        return Math.Max(Config.Minimum, (int)Math.Floor(decayed + 1e-9));
    }
}
