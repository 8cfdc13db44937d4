using Rmt.Contracts;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.MidTraining;

/// <summary>What a reward needs to know about a key position besides the response.</summary>
/// <param name="Continuation">Ground-truth tokens from the key position on: [0] is the target
/// x_pos, later ones serve the byte-prefix match (RPT) when a prediction spans several tokens.</param>
/// <param name="Budget">The budget B_t shown in the prompt, or null when the budget is off.</param>
public sealed record RewardContext(int[] Continuation, int? Budget)
{
    public int Target => Continuation[0];
}

/// <summary>The one reward signature of the trainer. Every reward returns 0 for a malformed response.</summary>
public interface IRewardFunction
{
    double Score(ParsedResponse response, RewardContext context);
}

/// <summary>The paper's accuracy reward r_pos = 1[y == x_pos]. Next-token format: the answer token
/// equals the target id. Boxed format: the boxed text equals the target token's text, both with
/// surrounding white space trimmed (a BPE token often carries a leading space the box drops).</summary>
public sealed class ExactMatchReward(ITokenizer tokenizer, string answerFormat = RolloutConfig.NextTokenFormat) : IRewardFunction
{
    private readonly IAnswerFormat format = AnswerFormats.Of(answerFormat);

    public double Score(ParsedResponse response, RewardContext context) =>
        response.WellFormed && format.Matches(response, context.Target, tokenizer) ? 1.0 : 0.0;
}

/// <summary>RPT's prefix-matching reward: 1 when the predicted text equals the ground-truth text of
/// its first k tokens for some k >= 1 (a prefix of the continuation that ends on a token boundary),
/// so a prediction may cover several ground-truth tokens but never stop inside one. Compared as
/// decoded text, which equals byte comparison except for tokens that split a UTF-8 character.</summary>
public sealed class BytePrefixReward(ITokenizer tokenizer) : IRewardFunction
{
    public double Score(ParsedResponse response, RewardContext context)
    {
        if (!response.WellFormed || response.AnswerText.Length == 0) return 0.0;
        string answer = response.AnswerText;
        for (int k = 1; k <= context.Continuation.Length; k++)
        {
            string prefix = tokenizer.Decode(context.Continuation.Take(k));
            if (prefix == answer) return 1.0;
            if (prefix.Length >= answer.Length) break;
        }
        return 0.0;
    }
}

/// <summary>Triangular length reward around the budget B: <c>r_max l / B</c> for l &lt;= B,
/// <c>r_max (2B - l) / B</c> for B &lt; l &lt;= 2B, 0 beyond (paper). B = 0 rewards only l = 0.</summary>
public sealed class LengthReward(double maximum)
{
    public double Maximum { get; } = maximum;

    public double Score(int length, int budget)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "a reasoning length cannot be negative");
        if (budget <= 0) return length == 0 ? Maximum : 0.0;
        if (length <= budget) return Maximum * length / budget;
        if (length <= 2 * budget) return Maximum * (2.0 * budget - length) / budget;
        return 0.0;
    }
}

/// <summary><c>r = (1 - w) r_pos + w r_len</c> when the context carries a budget, else <c>r_pos</c>
/// alone (budget off: RPT and "w/o budget"). Malformed responses get 0. With
/// <paramref name="lengthOnlyIfCorrect"/> a wrong answer gets 0 whatever its length (an option, not
/// the paper's formula).</summary>
public sealed class CombinedReward(IRewardFunction accuracy, LengthReward length, double lengthWeight, bool lengthOnlyIfCorrect = false) : IRewardFunction
{
    public IRewardFunction Accuracy { get; } = accuracy;

    public double Score(ParsedResponse response, RewardContext context)
    {
        if (!response.WellFormed) return 0.0;
        double rPos = Accuracy.Score(response, context);
        if (context.Budget is not int budget) return rPos;
        if (lengthOnlyIfCorrect && rPos == 0) return 0.0;
        return (1.0 - lengthWeight) * rPos + lengthWeight * length.Score(response.ReasoningTokens, budget);
    }

    /// <summary>The reward a <see cref="RewardConfig"/> describes; the match is chosen here, once.</summary>
    public static CombinedReward From(RewardConfig config, ITokenizer tokenizer, string answerFormat)
    {
        IRewardFunction accuracy = config.Match == RewardConfig.BytePrefixMatch
            ? new BytePrefixReward(tokenizer)
            : new ExactMatchReward(tokenizer, answerFormat);
        return new CombinedReward(accuracy, new LengthReward(config.LengthRewardMax), config.LengthWeight, config.LengthOnlyIfCorrect);
    }
}
