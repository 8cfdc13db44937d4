namespace Rmt.Training.PostTraining;

/// <summary>The unbiased pass@k estimator of Chen et al. 2021 (Codex): with n samples of which c are
/// correct, pass@k = 1 - C(n-c, k) / C(n, k), the chance that k samples drawn without replacement
/// from the n contain a correct one. Computed as a running product, so large n does not overflow.</summary>
public static class PassAtK
{
    public static double Estimate(int samples, int correct, int k)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, "at least one sample is needed");
        if (correct < 0 || correct > samples) throw new ArgumentOutOfRangeException(nameof(correct), correct, $"correct must be between 0 and samples ({samples})");
        if (k < 1 || k > samples) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and samples ({samples})");
        if (samples - correct < k) return 1.0;
        // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
        var allWrong = 1.0;
        for (var i = samples - correct + 1; i <= samples; i++) allWrong *= 1.0 - (double)k / i;
        return 1.0 - allWrong;
    }
}
