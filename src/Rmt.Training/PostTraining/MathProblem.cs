namespace Rmt.Training.PostTraining;

/// <summary>One math problem in GSM8K form: <see cref="Answer"/> holds a worked solution and ends
/// with <c>#### x</c>, the final answer. Both the GSM8K loader and the arithmetic generator make
/// these, so everything downstream sees one shape.</summary>
public sealed record MathProblem(string Question, string Answer)
{
    /// <summary>The text after the last <c>#### </c> marker, trimmed (e.g. "1,080", "-7").</summary>
    public string FinalAnswer => SplitAnswer(Answer).Final;

    /// <summary>The worked solution before the marker, without GSM8K's <c>&lt;&lt;a*b=c&gt;&gt;</c>
    /// calculator annotations (they are tool calls of the original annotators, not reasoning text).</summary>
    public string Solution => AnswerExtractor.StripCalculatorAnnotations(SplitAnswer(Answer).Solution).Trim();

    internal static (string Solution, string Final) SplitAnswer(string answer)
    {
        var marker = answer.LastIndexOf("####", StringComparison.Ordinal);
        if (marker < 0) return (answer, "");
        return (answer[..marker], answer[(marker + 4)..].Trim());
    }
}

/// <summary>A line of a math data file that cannot be used; the message names file and line.</summary>
public sealed class MathDataException : Exception
{
    public MathDataException(string message) : base(message) { }
    public MathDataException(string message, Exception inner) : base(message, inner) { }
    public MathDataException() { }
}

/// <summary>The post-training stage refuses its inputs (base checkpoint, tokenizer, data, config);
/// the message names the input, the problem and the fix.</summary>
public sealed class PostTrainException : Exception
{
    public PostTrainException(string message) : base(message) { }
    public PostTrainException(string message, Exception inner) : base(message, inner) { }
    public PostTrainException() { }
}
