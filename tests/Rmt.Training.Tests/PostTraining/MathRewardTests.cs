using Rmt.Contracts;
using Rmt.Contracts.Datasets;
using Rmt.Training.PostTraining;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.Tests.PostTraining;

public sealed class MathRewardTests
{
    private static readonly MathProblem Problem = new("Ann has 3 pens. Ann gets 4 more. How many pens does Ann have now?", "3 + 4 = 7\n#### 7");

    private static readonly ByteLevelBpeTokenizer Bytes = ByteLevelBpeTokenizer.CreateBytes();

    [Theory]
    //           completion (after the prompt's <think>)      correct format total(w=0.1)
    [InlineData(" 3 + 4 = 7 </think> #### 7", 1.0, 1.0, 1.0)]
    [InlineData(" 3 + 4 = 7 </think> #### 7.0", 1.0, 1.0, 1.0)]
    [InlineData(" 3 + 4 = 7 </think> #### 7<|endoftext|> more", 1.0, 1.0, 1.0)] // anything after end-of-text is ignored
    [InlineData(" 3 + 4 = 8 </think> #### 8", 0.0, 1.0, 0.1)]
    [InlineData(" 3 + 4 = 7 </think> 7", 1.0, 0.0, 0.9)]                  // right, but no marker
    [InlineData(" 3 + 4 = 7 </think> \\boxed{7}", 1.0, 0.0, 0.9)]
    [InlineData(" 3 + 4 = 7 </think> ##### 7", 1.0, 0.0, 0.9)]
    [InlineData(" 3 + 4 = 7 </think> #### 7 and more", 1.0, 0.0, 0.9)]
    [InlineData("</think> #### 7", 1.0, 0.0, 0.9)]                         // no reasoning at all
    [InlineData(" 3 + 4 = 7", 0.0, 0.0, 0.0)]                              // cut off inside the reasoning: its 7 is not an answer
    [InlineData(" 3 + 4 = 7 </think> #### 7 </think> #### 7", 0.0, 0.0, 0.0)] // malformed: a second </think>
    [InlineData(" 3 <think> 4 </think> #### 7", 0.0, 0.0, 0.0)]            // malformed: a second <think>
    [InlineData(" 3 + 4 = 7 </think> seven", 0.0, 0.0, 0.0)]                // malformed: no number after </think>
    [InlineData("", 0.0, 0.0, 0.0)]
    public void Reward_is_correctness_plus_a_small_format_bonus(string completion, double correct, double format, double total)
    {
        var reward = new MathReward(Bytes, formatWeight: 0.1).Breakdown(completion, Problem);
        Assert.Equal(correct, reward.Correct);
        Assert.Equal(format, reward.Format);
        Assert.Equal(total, reward.Total, precision: 12);
    }

    [Fact]
    public void Reward_has_the_rmt_trainer_signature_and_reads_the_reference_from_the_context()
    {
        IRewardFunction reward = new MathReward(Bytes, 0.0);
        var tokens = Bytes.Encode(" 1,000 + 80 = 1,080 </think> #### $1,080<|endoftext|>");
        var response = MathResponse.Parse(Bytes, tokens, tokens.Length);
        Assert.True(response.WellFormed);
        Assert.Equal(" #### $1,080", response.AnswerText);
        Assert.Equal(tokens.Length, response.ScoredLength);
        Assert.Equal(1.0, reward.Score(response, new RewardContext(Bytes.Encode("1080"), null)));
        Assert.Equal(0.0, reward.Score(response, new RewardContext(Bytes.Encode("1008"), null)));
        var cut = MathResponse.Parse(Bytes, tokens, 5);
        Assert.False(cut.WellFormed);
        Assert.Equal("no </think>: the reasoning was cut off", cut.Problem);
    }

    [Fact]
    public void Without_format_weight_the_reward_is_pure_correctness()
    {
        var reward = new MathReward(Bytes, 0.0);
        Assert.Equal(1.0, reward.Breakdown(" x </think> 7", Problem).Total);
        Assert.Equal(0.0, reward.Breakdown(" x </think> #### 6", Problem).Total);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MathReward(Bytes, 1.5));
    }

    [Fact]
    public void The_format_round_trips_a_worked_solution()
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(Operations: 3, Digits: 2, Operators: "+-*"));
        foreach (var problem in generator.Generate(30, seed: 2))
        {
            var completion = MathPromptFormat.Completion(problem);
            Assert.EndsWith("<think>", MathPromptFormat.Prompt(problem), StringComparison.Ordinal);
            Assert.DoesNotContain("\n", completion, StringComparison.Ordinal);
            Assert.Equal(new MathRewardBreakdown(1.0, 1.0, 1.0), new MathReward(Bytes, 0.1).Breakdown(completion, problem));
        }
    }

    [Fact]
    public void A_problem_reads_like_next_token_reasoning_at_its_answer()
    {
        // Mid-training writes "{context}<think>{trace}</think>{next}"; a problem asked up to its sum
        // must read the same, so a mid-trained checkpoint meets no new punctuation around its reasoning.
        var (question, solution, sum) = new ArithmeticText(new Random(3), templates: 1).Problem();
        var problem = new MathProblem(question, $"{solution}\n#### {sum}");
        var text = MathPromptFormat.Prompt(problem) + MathPromptFormat.Completion(problem);
        var sentence = $"{question} "; // the sentence up to its sum, as mid-training's context ends
        Assert.Equal($"{sentence}{ReasoningText.ThinkStart}{solution}{ReasoningText.ThinkEnd} #### {sum}", text);
        Assert.Matches(@"^[0-9]+ plus [0-9]+ is <think>[0-9]\+[0-9]=[0-9]+ [0-9]\+[0-9]\+[01]=[0-9]+ =[0-9]+</think> #### [0-9]+$", text);
    }

    [Fact]
    public void Post_train_config_validation_names_the_field_and_range()
    {
        new PostTrainConfig().Validate();
        Assert.Contains("postTrain.groupSize is 1", Assert.Throws<ContractException>(() => new PostTrainConfig(GroupSize: 1).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("postTrain.temperature", Assert.Throws<ContractException>(() => new PostTrainConfig(Temperature: 0).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("postTrain.formatRewardWeight", Assert.Throws<ContractException>(() => new PostTrainConfig(FormatRewardWeight: 2).Validate()).Message, StringComparison.Ordinal);
        var error = Assert.Throws<ContractException>(() => new PostTrainConfig(PassAtK: 8, EvalSamples: 4).Validate());
        Assert.Contains("postTrain.evalSamples is 4", error.Message, StringComparison.Ordinal);
        var json = RmtJson.Serialize(new PostTrainConfig(GroupSize: 4, Grpo: new GrpoConfig(KlWeight: 0)));
        Assert.Equal(new PostTrainConfig(GroupSize: 4, Grpo: new GrpoConfig(KlWeight: 0)), RmtJson.Parse<PostTrainConfig>(json, "config"));
        Assert.Equal(1e-4, RmtJson.Parse<PostTrainConfig>("{}", "config").Schedule.LearningRate);
        Assert.Equal(0.04, RmtJson.Parse<PostTrainConfig>("{}", "config").Grpo.KlWeight);
        Assert.Contains("postTrain.grpo.klWeight", Assert.Throws<ContractException>(() => new PostTrainConfig(Grpo: new GrpoConfig(KlWeight: -1)).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("postTrain.formatWarmupTargetAccuracy", Assert.Throws<ContractException>(() => new PostTrainConfig(FormatWarmupSteps: 10, FormatWarmupTargetAccuracy: 1.5).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("postTrain.formatWarmupCheckEvery", Assert.Throws<ContractException>(() => new PostTrainConfig(FormatWarmupSteps: 10, FormatWarmupTargetAccuracy: 0.8, FormatWarmupCheckEvery: 0).Validate()).Message, StringComparison.Ordinal);
        var noWarmup = Assert.Throws<ContractException>(() => new PostTrainConfig(FormatWarmupTargetAccuracy: 0.8).Validate()).Message;
        Assert.Contains("formatWarmupSteps is 0; set formatWarmupSteps to the most warm-up steps", noWarmup, StringComparison.Ordinal);
        new PostTrainConfig(FormatWarmupSteps: 10, FormatWarmupTargetAccuracy: 0.8).Validate();
    }
}

public sealed class PassAtKTests
{
    [Theory]
    [InlineData(8, 0, 4, 0.0)]
    [InlineData(8, 8, 4, 1.0)]
    [InlineData(8, 5, 4, 1.0)]                  // only 3 wrong: any 4 contain a right one
    [InlineData(4, 1, 1, 0.25)]                 // pass@1 is the fraction correct
    [InlineData(10, 3, 1, 0.3)]
    [InlineData(4, 1, 2, 0.5)]                  // 1 - C(3,2)/C(4,2) = 1 - 3/6
    [InlineData(10, 2, 3, 1.0 - 56.0 / 120.0)]  // 1 - C(8,3)/C(10,3)
    public void Pass_at_k_matches_the_binomial_formula(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), precision: 12);

    [Fact]
    public void Pass_at_k_rejects_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(4, 5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(4, 1, 5));
    }
}
