using Rmt.Training.PostTraining;

namespace Rmt.Training.Tests.PostTraining;

public sealed class AnswerCheckingTests
{
    // Final answers and last solution lines taken from ../shared/data/gsm8k/test.jsonl (line number
    // in the comment), plus model-output shapes. Expected value as "n" or "n/d".
    public static TheoryData<string, string, AnswerSource> Extractions => new()
    {
        { "#### 18", "18", AnswerSource.Hashes },                                                                        // test 1
        { "So he made a profit of 200,000-130,000=$<<200000-130000=70000>>70,000\n#### 70000", "70000", AnswerSource.Hashes }, // test 3
        { "So he made a profit of 200,000-130,000=$<<200000-130000=70000>>70,000", "70000", AnswerSource.LastNumber },   // test 3, comma + dollar + annotation
        { "Dividing both sides by .75, we get X = $26.", "26", AnswerSource.LastNumber },                                 // test 25, trailing full stop
        { "If each carton costs $4.00 and she needs 4 containers then it will cost her 4*4 = $<<4*4=16.00>>16.00", "16", AnswerSource.LastNumber }, // test 28, trailing .00
        { "This is 12/20 x 100% = 60% of the entire students.", "60", AnswerSource.LastNumber },                           // test 15, percent
        { "$1150/week * 50 weeks/year = $<<1150*50=57500>>57,500", "57500", AnswerSource.LastNumber },                     // test 18
        { "Therefore, Marie ordered $17/$8.50 = <<17/8.5=2>>2 boxes of pizza.", "2", AnswerSource.LastNumber },            // test 26
        { "then I can eat only 60g * 4/5 = 240g/5 = 48 grams", "48", AnswerSource.LastNumber },                           // test 44
        { "$50,000 * 50% = $<<50000*50*.01=25000>>25,000", "25000", AnswerSource.LastNumber },                             // test 63
        { "#### 109,200,000", "109200000", AnswerSource.Hashes },                                                          // a train final answer with two separators
        { "#### -47", "-47", AnswerSource.Hashes },                                                                        // negative finals in train
        { "The temperature drops to -12 degrees.", "-12", AnswerSource.LastNumber },
        { "60-15-25=<<60-15-25=20>>20 cups", "20", AnswerSource.LastNumber },                                             // a minus after a digit is subtraction
        { "<think>3 + 4 = 7</think> #### 7", "7", AnswerSource.Hashes },
        { "<think>half of 3/2 is 0.75</think>\\boxed{\\frac{3}{4}}", "3/4", AnswerSource.Boxed },
        { "The answer is \\boxed{1,080}.", "1080", AnswerSource.Boxed },
        { "\\boxed{\\text{\\$}18}", "18", AnswerSource.Boxed },
        { "so x = \\boxed{0.75}", "3/4", AnswerSource.Boxed },
        { "#### $18.00 dollars", "18", AnswerSource.Hashes },
        { "#### 1 1/2", "3/2", AnswerSource.Hashes },
        { "#### the answer is 9", "9", AnswerSource.Hashes },                                                             // marker then words: first number after it
        { "<think>12 - 5 = 7 then 7 + 1 = 8</think> 8", "8", AnswerSource.LastNumber },
        { "<think>2 + 2 = 4</think>4 #### 5", "5", AnswerSource.Hashes },                                                 // the marker wins over a bare number
    };

    [Theory]
    [MemberData(nameof(Extractions))]
    public void Extract_finds_the_final_answer(string text, string expected, AnswerSource source)
    {
        var answer = AnswerExtractor.Extract(text);
        Assert.NotNull(answer);
        Assert.Equal(MathNumber.Parse(expected), answer.Value);
        Assert.Equal(source, answer.Source);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no numbers here")]
    [InlineData("<think>3 + 4 = 7")]                 // reasoning cut off: no answer even though numbers are there
    [InlineData("<think>3 + 4 = 7</think>")]         // closed, but nothing after it
    [InlineData("<think>3 + 4 = 7</think> seven")]
    public void Extract_returns_null_without_an_answer(string text) => Assert.Null(AnswerExtractor.Extract(text));

    [Theory]
    [InlineData("1,080", "1080")]
    [InlineData("$18", "18")]
    [InlineData("-$5", "-5")]
    [InlineData("$-5", "-5")]
    [InlineData("\u22127", "-7")]
    [InlineData("16.00", "16")]
    [InlineData("7.0", "7")]
    [InlineData("0.75", "3/4")]
    [InlineData(".5", "1/2")]
    [InlineData("3/4", "3/4")]
    [InlineData("6/8", "3/4")]
    [InlineData("\\frac{3}{4}", "3/4")]
    [InlineData("\\dfrac{-1}{2}", "-1/2")]
    [InlineData("2 1/2", "5/2")]
    [InlineData("60%", "60")]
    [InlineData("60\\%", "60")]
    [InlineData("160 minutes", "160")]
    [InlineData("10 mph.", "10")]
    [InlineData("26.", "26")]
    [InlineData("1{,}000", "1000")]
    [InlineData("$ 2,520,000 $", "2520000")]
    public void Normalise_equates_the_ways_one_answer_is_written(string text, string canonical)
    {
        Assert.True(MathNumber.TryParse(text, out var value), $"'{text}' did not parse");
        Assert.Equal(canonical, value.ToString());
    }

    [Theory]
    [InlineData("1,08")]                     // not a thousands group: a list or a decimal comma, ambiguous
    [InlineData("3 apples and 4 pears")]     // two numbers
    [InlineData("x")]
    [InlineData("1/0")]
    [InlineData("12,3456")]
    public void Normalise_rejects_what_it_cannot_read_unambiguously(string text) => Assert.False(MathNumber.TryParse(text, out _));

    [Fact]
    public void Approximations_are_not_equal_to_exact_fractions()
    {
        Assert.NotEqual(MathNumber.Parse("1/3"), MathNumber.Parse("0.333"));
        Assert.Equal(MathNumber.Parse("1/4"), MathNumber.Parse("0.25"));
    }

    [Fact]
    public void Checker_compares_model_output_with_a_gsm8k_reference()
    {
        var problem = new MathProblem("q", "He earns 1,000 + 80 = <<1000+80=1080>>1080 dollars.\n#### 1,080");
        Assert.True(AnswerChecker.IsCorrect("<think>1000 + 80 = 1080</think> #### $1,080", problem));
        Assert.True(AnswerChecker.IsCorrect("The total is \\boxed{1080}", problem));
        Assert.False(AnswerChecker.IsCorrect("<think>1000 + 80 = 1080</think> #### 1008", problem));
        Assert.False(AnswerChecker.IsCorrect("<think>1000 + 80 = 1080", problem));
    }

    [Fact]
    public void Every_real_gsm8k_reference_answer_parses_and_extracts_to_itself()
    {
        var path = Path.Combine(SharedData.Root, "gsm8k", "test.jsonl");
        var problems = Gsm8kLoader.Load(path);
        Assert.Equal(1319, problems.Count);
        foreach (var problem in problems)
        {
            var reference = AnswerChecker.ReferenceValue(problem);
            Assert.True(AnswerChecker.IsCorrect(problem.Answer, problem), $"extraction failed on: {problem.Answer}");
            Assert.True(reference.IsInteger);
        }
    }

    // A tiny model can emit any byte sequence; digits of other scripts (Arabic-Indic, Devanagari,
    // full-width) are not answers and must score 0, not throw.
    [Theory]
    [InlineData("#### \u0663\u0664")]
    [InlineData("the answer is \u096A")]
    [InlineData("\\boxed{\uFF17}")]
    [InlineData("#### 12 \u0663")]
    public void Non_ascii_digits_are_not_answers_and_do_not_throw(string output)
    {
        var problem = new MathProblem("What is 3 + 4?", "3 + 4 = 7\n#### 7");

        Assert.False(AnswerChecker.IsCorrect(output, problem));
    }
}
