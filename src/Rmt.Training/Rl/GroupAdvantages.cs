namespace Rmt.Training.Rl;

/// <summary>GRPO advantages: each reward is normalised within its group of G responses to the same
/// prompt, <c>A_i = (r_i - mean(r)) / (std(r) + delta)</c>, with the population standard deviation.
/// A group whose rewards are all equal gets advantages of exactly 0 (no signal, never NaN).</summary>
public static class GroupAdvantages
{
    /// <param name="rewards">Rewards laid out group by group: [g0 r0..r(G-1), g1 r0.., ...].</param>
    /// <param name="groupSize">G; rewards.Count must be a multiple of it.</param>
    /// <param name="delta">Added to the standard deviation (GrpoConfig.AdvantageEpsilon).</param>
    public static double[] Compute(IReadOnlyList<double> rewards, int groupSize, double delta)
    {
        if (groupSize < 1) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "group size must be at least 1");
        if (rewards.Count % groupSize != 0)
            throw new ArgumentException($"{rewards.Count} rewards do not split into groups of {groupSize}", nameof(rewards));
        if (delta <= 0) throw new ArgumentOutOfRangeException(nameof(delta), delta, "delta must be positive");
        var advantages = new double[rewards.Count];
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            double mean = 0;
            for (int i = 0; i < groupSize; i++) mean += rewards[start + i];
            mean /= groupSize;
            double variance = 0;
            for (int i = 0; i < groupSize; i++) variance += (rewards[start + i] - mean) * (rewards[start + i] - mean);
            double std = Math.Sqrt(variance / groupSize);
            for (int i = 0; i < groupSize; i++)
            {
                double centred = rewards[start + i] - mean;
                // Equal rewards: centred is 0 up to rounding; make it exactly 0 so no noise is amplified by 1/delta.
                advantages[start + i] = std == 0 ? 0.0 : centred / (std + delta);
            }
        }
        return advantages;
    }
}
