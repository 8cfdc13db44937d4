using Rmt.Contracts;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.Tests.MidTraining;

public sealed class RewardTests
{
    private static readonly ByteLevelBpeTokenizer Bytes = ByteLevelBpeTokenizer.CreateBytes();

    private static ParsedResponse Answer(string text, int reasoning) =>
        new(true, reasoning, Bytes.Encode(text), text, reasoning + 2, null);

    [Theory]
    // length, budget, expected r_len (r_max = 1)
    [InlineData(0, 10, 0.0)]
    [InlineData(5, 10, 0.5)]
    [InlineData(10, 10, 1.0)]    // l = B: the peak
    [InlineData(15, 10, 0.5)]
    [InlineData(19, 10, 0.1)]
    [InlineData(20, 10, 0.0)]    // l = 2B: back to 0
    [InlineData(21, 10, 0.0)]    // beyond 2B
    [InlineData(1, 1, 1.0)]
    [InlineData(2, 1, 0.0)]
    [InlineData(0, 0, 1.0)]      // B = 0 rewards only silence
    [InlineData(1, 0, 0.0)]
    [InlineData(400, 800, 0.5)]
    [InlineData(1200, 800, 0.5)]
    public void Triangular_length_reward(int length, int budget, double expected)
    {
        Assert.Equal(expected, new LengthReward(1.0).Score(length, budget), 12);
        Assert.Equal(2 * expected, new LengthReward(2.0).Score(length, budget), 12);
    }

    [Theory]
    // answer, reasoning length, budget (-1 = off), expected r with w = 0.2, r_max = 1; target is "7"
    [InlineData("7", 10, 10, 1.0)]        // right, l = B
    [InlineData("7", 20, 10, 0.8)]        // right, l = 2B
    [InlineData("7", 0, 10, 0.8)]         // right, no reasoning
    [InlineData("7", 5, 10, 0.9)]         // 0.8 + 0.2 * 0.5
    [InlineData("3", 10, 10, 0.2)]        // wrong, l = B
    [InlineData("3", 30, 10, 0.0)]
    [InlineData("7", 50, -1, 1.0)]        // budget off: r = r_pos
    [InlineData("3", 50, -1, 0.0)]
    public void Combined_reward_is_one_minus_w_accuracy_plus_w_length(string answer, int reasoning, int budget, double expected)
    {
        var reward = CombinedReward.From(new RewardConfig(), Bytes, RolloutConfig.NextTokenFormat);
        var context = new RewardContext(Bytes.Encode("7 is"), budget < 0 ? null : budget);
        Assert.Equal(expected, reward.Score(Answer(answer, reasoning), context), 12);
    }

    [Theory]
    [InlineData("7", 10, 1.0)]
    [InlineData("7", 0, 0.8)]
    [InlineData("3", 10, 0.0)]                // wrong: no length reward when gated
    public void Gated_length_reward_pays_only_right_answers(string answer, int reasoning, double expected)
    {
        var reward = CombinedReward.From(new RewardConfig(LengthOnlyIfCorrect: true), Bytes, RolloutConfig.NextTokenFormat);
        Assert.Equal(expected, reward.Score(Answer(answer, reasoning), new RewardContext(Bytes.Encode("7"), 10)), 12);
    }

    [Fact]
    public void Malformed_responses_get_zero_from_every_reward()
    {
        var malformed = ParsedResponse.Malformed(10, 11, "no </think>");
        var context = new RewardContext(Bytes.Encode("7"), 10);
        Assert.Equal(0.0, CombinedReward.From(new RewardConfig(), Bytes, RolloutConfig.NextTokenFormat).Score(malformed, context));
        Assert.Equal(0.0, new ExactMatchReward(Bytes).Score(malformed, context));
        Assert.Equal(0.0, new BytePrefixReward(Bytes).Score(malformed, context));
    }

    [Theory]
    // prediction, continuation, expected prefix reward
    [InlineData("1", "12 apples", 1.0)]     // one token
    [InlineData("12", "12 apples", 1.0)]    // spans two ground-truth tokens, ends on a boundary
    [InlineData("12 ", "12 apples", 1.0)]
    [InlineData("13", "12 apples", 0.0)]
    [InlineData("2", "12 apples", 0.0)]
    [InlineData("12 apples!", "12 apples", 0.0)] // longer than the continuation
    public void Byte_prefix_reward_accepts_predictions_that_end_on_a_token_boundary(string prediction, string continuation, double expected)
    {
        var response = new ParsedResponse(true, 3, Bytes.Encode(prediction), prediction, 5, null);
        Assert.Equal(expected, new BytePrefixReward(Bytes).Score(response, new RewardContext(Bytes.Encode(continuation), null)));
    }

    [Fact]
    public void Byte_prefix_reward_rejects_a_prediction_that_stops_inside_a_multi_byte_token()
    {
        var bpe = ByteLevelBpeTokenizer.FromTokenizerJson(Path.Combine(TestPaths.Fixture("tokenizer-bpe-384"), "tokenizer.json"));
        var continuation = bpe.Encode(" hello world");
        string first = bpe.Decode([continuation[0]]);
        Assert.True(first.Length > 2, $"fixture tokenizer should merge '{first}'");
        var inside = first[..^1];
        var response = new ParsedResponse(true, 1, [], inside, 3, null);
        Assert.Equal(0.0, new BytePrefixReward(bpe).Score(response, new RewardContext(continuation, null)));
        var whole = response with { AnswerText = first };
        Assert.Equal(1.0, new BytePrefixReward(bpe).Score(whole, new RewardContext(continuation, null)));
    }

    [Fact]
    public void Exact_match_in_boxed_format_compares_trimmed_text()
    {
        var reward = new ExactMatchReward(Bytes, RolloutConfig.BoxedFormat);
        var context = new RewardContext(Bytes.Encode("7"), null);
        Assert.Equal(1.0, reward.Score(new ParsedResponse(true, 2, [], " 7 ", 8, null), context));
        Assert.Equal(0.0, reward.Score(new ParsedResponse(true, 2, [], "77", 8, null), context));
    }
}
