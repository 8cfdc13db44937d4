using Rmt.Contracts;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.Tests.MidTraining;

public sealed class ReasoningFormatTests
{
    private static readonly ByteLevelBpeTokenizer Bytes = ByteLevelBpeTokenizer.CreateBytes();

    [Fact]
    public void Prompt_is_context_then_budget_hint_then_think()
    {
        var format = new ReasoningFormat(Bytes);
        var prompt = format.Prompt(Bytes.Encode("two plus two is"), 12);
        Assert.Equal("two plus two is [budget 12]<think>", Bytes.Decode(prompt));
        Assert.Equal("two plus two is<think>", Bytes.Decode(format.Prompt(Bytes.Encode("two plus two is"), null)));
    }

    [Fact]
    public void Text_written_without_a_tokenizer_encodes_to_the_same_example_as_the_token_format()
    {
        // The demo writes its pretraining examples with Rmt.Contracts' ReasoningText (no TorchSharp there).
        var format = new ReasoningFormat(Bytes);
        var text = Contracts.Datasets.ReasoningText.Example("34 plus 58 is ", 40, "4+8=12 3+5+1=9 =92 have - left 92", "9");
        Assert.Equal(format.Example("34 plus 58 is ", 40, "4+8=12 3+5+1=9 =92 have - left 92", "9"), text);
        var tokens = Bytes.Encode(text);
        Assert.Equal([Bytes.ThinkStart, Bytes.ThinkEnd, Bytes.EndOfText], tokens.Where(t => t == Bytes.ThinkStart || t == Bytes.ThinkEnd || t == Bytes.EndOfText));
        Assert.Equal(Bytes.EndOfText, tokens[^1]);
    }

    [Fact]
    public void Next_token_format_takes_the_token_after_think_end_and_counts_reasoning()
    {
        var format = new ReasoningFormat(Bytes);
        var response = Bytes.Encode("2+2=4</think>4<|endoftext|>");
        var parsed = format.Parse(response);
        Assert.True(parsed.WellFormed);
        Assert.Equal(5, parsed.ReasoningTokens);
        Assert.Equal(Bytes.Encode("4"), parsed.AnswerTokens);
        Assert.Equal("4", parsed.AnswerText);
        Assert.Equal(response.Length, parsed.ScoredLength); // through the answer and its end-of-text
        // anything after the answer is not scored
        var chatty = format.Parse(Bytes.Encode("ab</think>4xyz"));
        Assert.Equal(4, chatty.ScoredLength);
    }

    [Theory]
    [InlineData("2+2=4 and more", "no </think>")]
    [InlineData("2+2=4</think>", "nothing after </think>")]
    [InlineData("2+2=4</think><|endoftext|>", "special token")]
    [InlineData("2+2</think></think>4", "special token")]
    public void Malformed_next_token_responses(string text, string problem)
    {
        var parsed = new ReasoningFormat(Bytes).Parse(Bytes.Encode(text));
        Assert.False(parsed.WellFormed);
        Assert.Contains(problem, parsed.Problem);
    }

    [Fact]
    public void Malformed_without_think_end_counts_reasoning_up_to_end_of_text()
    {
        var parsed = new ReasoningFormat(Bytes).Parse(Bytes.Encode("abc<|endoftext|>zz"));
        Assert.False(parsed.WellFormed);
        Assert.Equal(3, parsed.ReasoningTokens);
        Assert.Equal(4, parsed.ScoredLength);
    }

    [Fact]
    public void Boxed_format_reads_balanced_braces_after_think_end()
    {
        var format = new ReasoningFormat(Bytes, RolloutConfig.BoxedFormat);
        var parsed = format.Parse(Bytes.Encode("so it is 12</think>The next token is \\boxed{ {12}}.<|endoftext|>ignored"));
        Assert.True(parsed.WellFormed);
        Assert.Equal(" {12}", parsed.AnswerText);
        Assert.Equal(11, parsed.ReasoningTokens);
        Assert.False(format.Parse(Bytes.Encode("x</think>\\boxed{12")).WellFormed);
        Assert.False(format.Parse(Bytes.Encode("\\boxed{12}</think>")).WellFormed);
        Assert.Equal("a", ReasoningFormat.Boxed("\\boxed{a}\\boxed{b}"));
    }

    [Fact]
    public void Example_writes_the_same_format_the_parser_reads()
    {
        var format = new ReasoningFormat(Bytes);
        var text = format.Example("seven plus five is", 8, "7+5=12", "1");
        Assert.Equal("seven plus five is [budget 8]<think>7+5=12</think>1<|endoftext|>", text);
        var ids = Bytes.Encode(text);
        var prompt = format.Prompt(Bytes.Encode("seven plus five is"), 8);
        Assert.Equal(prompt, ids[..prompt.Length]);
        var parsed = format.Parse(ids[prompt.Length..]);
        Assert.Equal("1", parsed.AnswerText);
        Assert.Equal(6, parsed.ReasoningTokens);
    }
}
