namespace Rmt.Training.PostTraining;

/// <summary>The parts of one completion's reward, kept apart for logging.</summary>
public sealed record MathRewardBreakdown(double Correct, double Format, double Total);

/// <summary>Verifiable reward of math post-training:
/// <c>r = (1 - w) * correct + w * format</c>, with correct = 1 when the extracted final answer equals
/// the reference exactly (<see cref="AnswerChecker"/>) and format = 1 when the completion is
/// <see cref="MathPromptFormat.IsWellFormed"/>. w = 0 gives the pure correctness reward of
/// DeepSeekMath/R1-style GRPO; a small w makes the format learnable before answers are right.
/// The convex combination keeps r in [0, 1], so mean reward reads like an accuracy.</summary>
public sealed class MathReward
{
    public MathReward(double formatWeight)
    {
        if (double.IsNaN(formatWeight) || formatWeight < 0 || formatWeight > 1)
            throw new ArgumentOutOfRangeException(nameof(formatWeight), formatWeight, "the format-reward weight must be between 0 and 1");
        FormatWeight = formatWeight;
    }

    public double FormatWeight { get; }

    /// <summary>Scores the completion generated after the prompt of <paramref name="problem"/>.</summary>
    public MathRewardBreakdown Score(string completion, MathProblem problem) => Score(completion, AnswerChecker.ReferenceValue(problem));

    public MathRewardBreakdown Score(string completion, MathNumber reference)
    {
        var correct = MathPromptFormat.ExtractAnswer(completion) is { } answer && answer.Value == reference ? 1.0 : 0.0;
        var format = MathPromptFormat.IsWellFormed(completion) ? 1.0 : 0.0;
        return new MathRewardBreakdown(correct, format, (1 - FormatWeight) * correct + FormatWeight * format);
    }
}
