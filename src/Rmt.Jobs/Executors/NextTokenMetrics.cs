using System.Globalization;
using Rmt.Contracts;
using Rmt.Training.MidTraining;

namespace Rmt.Jobs.Executors;

/// <summary>A next-token evaluation as stage metrics (StageMetricNames): accuracy by tier and, with
/// reasoning, reasoning length and well-formed share; under "{model}/" for a baseline row, plain for
/// the run's own model.</summary>
public static class NextTokenMetrics
{
    /// <summary>Where a report's tiers come from, e.g. "tiers by the base's top-16 entropy (positions at
    /// or above the noise threshold of 2 nats left out)".</summary>
    public static string TierSource(CurriculumConfig curriculum, string model) => string.Create(CultureInfo.InvariantCulture,
        $"tiers by the {model} top-{curriculum.TopK} entropy{(curriculum.NoiseThreshold is double noise ? $" (positions at or above the noise threshold of {noise} nats left out)" : "")}");

    public static void Add(IDictionary<string, double> metrics, string? model, NextTokenEvaluation result)
    {
        string Name(string metric) => model is null ? metric : StageMetricNames.Of(model, metric);
        // A tier without positions (NaN) has no accuracy: no metric rather than a value JSON cannot hold.
        void Set(string metric, double value)
        {
            if (double.IsFinite(value)) metrics[Name(metric)] = value;
        }
        Set(StageMetricNames.AccuracyEasy, result.Accuracy.Easy);
        Set(StageMetricNames.AccuracyMedium, result.Accuracy.Medium);
        Set(StageMetricNames.AccuracyHard, result.Accuracy.Hard);
        Set(StageMetricNames.Accuracy, result.Accuracy.Average);
        if (!result.Reasoning) return;
        metrics[Name(StageMetricNames.ReasoningLength)] = result.MeanReasoningLength;
        metrics[Name(StageMetricNames.WellFormed)] = result.WellFormed;
    }
}
