using System.Globalization;
using System.Text.RegularExpressions;
using Rmt.Contracts;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.MidTraining;

/// <summary>The one prompt and response format of next-token reasoning, defined here only.
/// <code>
/// prompt   = context tokens x[pos-C .. pos)  +  " [budget B]" (when the budget is on)  +  &lt;think&gt;
/// response = reasoning tokens  +  &lt;/think&gt;  +  answer  +  &lt;|endoftext|&gt;
/// answer   = "next-token": the single token right after &lt;/think&gt; (small models)
///            "boxed":      \boxed{text} anywhere after &lt;/think&gt; (large models)
/// </code>
/// The budget hint is plain text the model reads with its ordinary tokens (no special token), so
/// any tokenizer can carry it. Reasoning length = tokens between &lt;think&gt; and &lt;/think&gt;.</summary>
public sealed partial class ReasoningFormat
{
    private readonly ITokenizer tokenizer;

    public ReasoningFormat(ITokenizer tokenizer, string answerFormat = RolloutConfig.NextTokenFormat)
    {
        this.tokenizer = tokenizer;
        Answer = AnswerFormats.Of(answerFormat);
    }

    /// <summary>How the answer follows &lt;/think&gt;, chosen once from the configured name.</summary>
    public IAnswerFormat Answer { get; }

    public string AnswerFormat => Answer.Name;
    public ITokenizer Tokenizer => tokenizer;

    /// <summary>The budget hint text, e.g. " [budget 12]".</summary>
    public static string BudgetHint(int budget) => Contracts.Datasets.ReasoningText.BudgetHint(budget);

    /// <summary>Prompt tokens: context, optional budget hint, &lt;think&gt;.</summary>
    public int[] Prompt(ReadOnlySpan<int> context, int? budget)
    {
        var hint = budget is int b ? tokenizer.Encode(BudgetHint(b)) : [];
        var prompt = new int[context.Length + hint.Length + 1];
        context.CopyTo(prompt);
        hint.CopyTo(prompt, context.Length);
        prompt[^1] = tokenizer.ThinkStart;
        return prompt;
    }

    /// <summary>A complete worked example in this format (used to teach the format in pretraining
    /// data): prompt text, reasoning text, answer text.</summary>
    public string Example(string context, int? budget, string reasoning, string answer)
    {
        string hint = budget is int b ? BudgetHint(b) : "";
        return $"{context}{hint}{ThinkStartText}{reasoning}{ThinkEndText}{Answer.Show(answer)}{EndOfTextText}";
    }

    public string ThinkStartText => tokenizer.Decode([tokenizer.ThinkStart]);
    public string ThinkEndText => tokenizer.Decode([tokenizer.ThinkEnd]);
    public string EndOfTextText => tokenizer.Decode([tokenizer.EndOfText]);

    /// <summary>Reads a generated response (the tokens after the prompt's &lt;think&gt;).</summary>
    public ParsedResponse Parse(IReadOnlyList<int> response)
    {
        int end = IndexOf(response, tokenizer.ThinkEnd, 0);
        if (end < 0)
        {
            int stop = IndexOf(response, tokenizer.EndOfText, 0);
            int length = stop < 0 ? response.Count : stop;
            return ParsedResponse.Malformed(length, stop < 0 ? response.Count : stop + 1, "no </think>");
        }
        return Answer.Parse(tokenizer, response, end);
    }

    internal static int IndexOf(IReadOnlyList<int> tokens, int value, int from)
    {
        for (int i = from; i < tokens.Count; i++) if (tokens[i] == value) return i;
        return -1;
    }

    /// <summary>The content of the first balanced \boxed{...} in <paramref name="text"/>, or null.</summary>
    public static string? Boxed(string text)
    {
        var m = BoxedStart().Match(text);
        if (!m.Success) return null;
        int depth = 1, i = m.Index + m.Length;
        for (int j = i; j < text.Length; j++)
        {
            if (text[j] == '{') depth++;
            else if (text[j] == '}' && --depth == 0) return text[i..j];
        }
        return null;
    }

    [GeneratedRegex(@"\\boxed\{")]
    private static partial Regex BoxedStart();
}

/// <summary>How an answer follows &lt;/think&gt;: read, shown in worked examples, and matched against
/// the target token. One implementation per <see cref="RolloutConfig.FormatNames"/>, chosen once
/// (<see cref="AnswerFormats.Of"/>), never by comparing names at score time.</summary>
public interface IAnswerFormat
{
    string Name { get; }

    /// <summary>Tokens the answer may take after &lt;/think&gt; (the response budget adds them).</summary>
    int MaxAnswerTokens { get; }

    /// <summary>The answer as a worked example writes it.</summary>
    string Show(string answer);

    /// <summary>Reads the answer of <paramref name="response"/>, whose &lt;/think&gt; is at <paramref name="thinkEnd"/>.</summary>
    ParsedResponse Parse(ITokenizer tokenizer, IReadOnlyList<int> response, int thinkEnd);

    /// <summary>Whether a well-formed answer is the target token (the paper's exact match).</summary>
    bool Matches(ParsedResponse response, int target, ITokenizer tokenizer);
}

/// <summary>The answer formats by configured name.</summary>
public static class AnswerFormats
{
    public static IAnswerFormat Of(string name) => name switch
    {
        RolloutConfig.NextTokenFormat => NextTokenAnswer.Instance,
        RolloutConfig.BoxedFormat => BoxedAnswer.Instance,
        _ => throw new ArgumentException($"answer format '{name}' is unknown; use one of {string.Join(", ", RolloutConfig.FormatNames)}", nameof(name)),
    };
}

/// <summary>"next-token": the single token right after &lt;/think&gt; (small models). It matches when it is the target id.</summary>
public sealed class NextTokenAnswer : IAnswerFormat
{
    public static readonly NextTokenAnswer Instance = new();

    public string Name => RolloutConfig.NextTokenFormat;

    public int MaxAnswerTokens => 1;

    public string Show(string answer) => answer;

    public bool Matches(ParsedResponse response, int target, ITokenizer tokenizer) =>
        response.AnswerTokens.Length == 1 && response.AnswerTokens[0] == target;

    public ParsedResponse Parse(ITokenizer tokenizer, IReadOnlyList<int> response, int thinkEnd)
    {
        int end = thinkEnd;
        int at = end + 1;
        if (at >= response.Count) return ParsedResponse.Malformed(end, response.Count, "nothing after </think>");
        int answer = response[at];
        if (answer == tokenizer.EndOfText || answer == tokenizer.ThinkStart || answer == tokenizer.ThinkEnd)
            return ParsedResponse.Malformed(end, at + 1, "a special token instead of an answer after </think>");
        int scored = at + 1 < response.Count && response[at + 1] == tokenizer.EndOfText ? at + 2 : at + 1;
        return new ParsedResponse(true, end, [answer], tokenizer.Decode([answer]), scored, null);
    }

}

/// <summary>"boxed": \boxed{text} anywhere after &lt;/think&gt; (large models). It matches when the boxed
/// text equals the target token's text, both trimmed (a BPE token often carries a leading space the
/// box drops).</summary>
public sealed class BoxedAnswer : IAnswerFormat
{
    public static readonly BoxedAnswer Instance = new();

    public string Name => RolloutConfig.BoxedFormat;

    public int MaxAnswerTokens => 16;

    public string Show(string answer) => $"\\boxed{{{answer}}}";

    public bool Matches(ParsedResponse response, int target, ITokenizer tokenizer)
    {
        string text = tokenizer.Decode([target]).Trim();
        return text.Length > 0 && response.AnswerText.Trim() == text;
    }

    public ParsedResponse Parse(ITokenizer tokenizer, IReadOnlyList<int> response, int thinkEnd)
    {
        int end = thinkEnd;
        int stop = ReasoningFormat.IndexOf(response, tokenizer.EndOfText, end + 1);
        int upTo = stop < 0 ? response.Count : stop;
        var tail = new List<int>();
        for (int i = end + 1; i < upTo; i++) tail.Add(response[i]);
        string text = tokenizer.Decode(tail);
        string? boxed = ReasoningFormat.Boxed(text);
        int scored = stop < 0 ? response.Count : stop + 1;
        if (boxed is null) return ParsedResponse.Malformed(end, scored, "no \\boxed{...} after </think>");
        return new ParsedResponse(true, end, [.. tail], boxed, scored, null);
    }
}

/// <summary>A response read by <see cref="ReasoningFormat.Parse"/>.</summary>
/// <param name="WellFormed">Has &lt;/think&gt; and an answer.</param>
/// <param name="ReasoningTokens">Tokens between &lt;think&gt; and &lt;/think&gt; (all before end-of-text when malformed).</param>
/// <param name="AnswerTokens">Next-token format: the answer token; boxed: the tokens after &lt;/think&gt;.</param>
/// <param name="AnswerText">The answer as text (the token's text, or the \boxed content).</param>
/// <param name="ScoredLength">Leading response tokens the policy loss covers (through the answer and
/// an end-of-text right after it); anything generated later is ignored.</param>
/// <param name="Problem">Why it is malformed, or null.</param>
public sealed record ParsedResponse(bool WellFormed, int ReasoningTokens, int[] AnswerTokens, string AnswerText, int ScoredLength, string? Problem)
{
    public static ParsedResponse Malformed(int reasoningTokens, int scoredLength, string problem) =>
        new(false, reasoningTokens, [], "", scoredLength, problem);
}
