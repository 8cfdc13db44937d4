using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.PostTraining;

/// <summary>The parts of one completion's reward, kept apart for logging.</summary>
public sealed record MathRewardBreakdown(double Correct, double Format, double Total);

/// <summary>Verifiable reward of math post-training, in the RMT trainer's reward signature
/// (<see cref="IRewardFunction"/>: a <see cref="ParsedResponse"/> from <see cref="MathResponse.Parse"/>
/// and a <see cref="RewardContext"/> whose Continuation holds the tokens of the reference answer):
/// <c>r = (1 - w) * correct + w * format</c>. correct = 1 when the response is well formed and its
/// extracted final answer equals the reference exactly (<see cref="MathNumber"/>); format = 1 for the
/// strict "reasoning &lt;/think&gt; #### x" shape (<see cref="MathResponse.HasStrictFormat"/>).
/// w = 0 is the pure correctness reward of DeepSeekMath/R1-style GRPO; a small w makes the format
/// learnable before answers are right. The convex combination keeps r in [0, 1], so mean reward
/// reads like an accuracy. Malformed responses (cut-off reasoning, no answer) score 0.</summary>
public sealed class MathReward : IRewardFunction
{
    private readonly ITokenizer tokenizer;

    public MathReward(ITokenizer tokenizer, double formatWeight)
    {
        if (double.IsNaN(formatWeight) || formatWeight < 0 || formatWeight > 1)
            throw new ArgumentOutOfRangeException(nameof(formatWeight), formatWeight, "the format-reward weight must be between 0 and 1");
        this.tokenizer = tokenizer;
        FormatWeight = formatWeight;
    }

    public double FormatWeight { get; }

    /// <summary>The reference answer of a problem as the reward context.</summary>
    public RewardContext Context(MathProblem problem) => new(tokenizer.Encode(problem.FinalAnswer), Budget: null);

    public double Score(ParsedResponse response, RewardContext context) => Breakdown(response, context).Total;

    public MathRewardBreakdown Breakdown(ParsedResponse response, RewardContext context)
    {
        var reference = MathNumber.Parse(tokenizer.Decode(context.Continuation));
        var correct = MathResponse.Answer(response) is { } answer && answer.Value == reference ? 1.0 : 0.0;
        var format = MathResponse.HasStrictFormat(response) ? 1.0 : 0.0;
        return new MathRewardBreakdown(correct, format, (1 - FormatWeight) * correct + FormatWeight * format);
    }

    /// <summary>Scores completion text (as generated after the prompt, without end-of-text).</summary>
    public MathRewardBreakdown Breakdown(string completion, MathProblem problem)
    {
        var tokens = tokenizer.Encode(completion);
        return Breakdown(MathResponse.Parse(tokenizer, tokens, tokens.Length), Context(problem));
    }
}
