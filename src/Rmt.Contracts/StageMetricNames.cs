namespace Rmt.Contracts;

/// <summary>Names of the metrics a stage reports in its completed event (StageResult.Metrics) that
/// the pipeline report lays out as the paper's tables. The trainer writes them, the report reads
/// them: one list, here. A name "{model}/{metric}" (e.g. "ntp/accuracy_hard") is a baseline
/// evaluated by the same stage and becomes its own row; plain names are the run's own model.</summary>
public static class StageMetricNames
{
    // Next-token reasoning evaluation (fractions 0..1), with reasoning; mean reasoning tokens.
    public const string AccuracyEasy = "accuracy_easy";
    public const string AccuracyMedium = "accuracy_medium";
    public const string AccuracyHard = "accuracy_hard";
    public const string Accuracy = "accuracy";
    public const string ReasoningLength = "reasoning_length";
    public const string WellFormed = "well_formed";   // share of responses with </think> and an answer

    // Math post-training: held-out greedy accuracy before the stage trained (after = Accuracy of the eval stage).
    public const string AccuracyBefore = "accuracy_before";
    public const string AccuracyAfter = "accuracy_after";

    /// <summary>The model name of the argmax baseline row (no reasoning).</summary>
    public const string NtpBaseline = "ntp";

    /// <summary>The model name of the untrained base evaluated with the same reasoning options (and
    /// budget hint) as the trained model: what training added.</summary>
    public const string UntrainedBase = "base";

    /// <summary>How the report names a model's row.</summary>
    public static string Label(string model) => model switch
    {
        NtpBaseline => "NTP (argmax, no reasoning)",
        UntrainedBase => "Untrained base (same hint)",
        _ => model.ToUpperInvariant(),
    };

    public static string Of(string model, string metric) => $"{model}/{metric}";
}
