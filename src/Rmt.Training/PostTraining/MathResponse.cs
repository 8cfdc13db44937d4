using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.PostTraining;

/// <summary>Reads a math completion (the tokens generated after the prompt's &lt;think&gt;) into the
/// RMT trainer's <see cref="ParsedResponse"/>, so math rewards share the trainer's reward signature
/// (<see cref="IRewardFunction"/>). Well formed = the reasoning is closed by exactly one
/// &lt;/think&gt;, no second &lt;think&gt; appears, and a number can be extracted from the text after
/// &lt;/think&gt; (up to end-of-text). AnswerTokens / AnswerText are that text; ScoredLength covers
/// the completion through its end-of-text.</summary>
public static class MathResponse
{
    public static ParsedResponse Parse(ITokenizer tokenizer, IReadOnlyList<int> tokens, int length)
    {
        var end = length;
        for (var i = 0; i < length; i++)
        {
            if (tokens[i] == tokenizer.EndOfText) { end = i; break; }
        }
        var scored = System.Math.Min(end + 1, length);
        var close = -1;
        for (var i = 0; i < end; i++)
        {
            if (tokens[i] == tokenizer.ThinkStart) return ParsedResponse.Malformed(i, scored, "a second <think>");
            if (tokens[i] != tokenizer.ThinkEnd) continue;
            if (close >= 0) return ParsedResponse.Malformed(close, scored, "a second </think>");
            close = i;
        }
        if (close < 0) return ParsedResponse.Malformed(end, scored, "no </think>: the reasoning was cut off");
        var answerTokens = new int[end - close - 1];
        for (var i = 0; i < answerTokens.Length; i++) answerTokens[i] = tokens[close + 1 + i];
        var answerText = tokenizer.Decode(answerTokens);
        return AnswerExtractor.Extract(answerText) is null
            ? new ParsedResponse(false, close, answerTokens, answerText, scored, "no number after </think>")
            : new ParsedResponse(true, close, answerTokens, answerText, scored, null);
    }

    /// <summary>The extracted final answer of a parsed completion, or null when malformed.</summary>
    public static ExtractedAnswer? Answer(ParsedResponse response) => response.WellFormed ? AnswerExtractor.Extract(response.AnswerText) : null;

    /// <summary>The strict format of <see cref="MathPromptFormat"/>: well formed, some reasoning, and
    /// the answer text is exactly "#### x" (x a number without words or units).</summary>
    public static bool HasStrictFormat(ParsedResponse response)
    {
        if (!response.WellFormed || response.ReasoningTokens == 0) return false;
        var answer = response.AnswerText.Trim();
        if (!answer.StartsWith(MathPromptFormat.AnswerMarker, StringComparison.Ordinal)) return false;
        var value = answer[MathPromptFormat.AnswerMarker.Length..].Trim();
        return !value.Any(c => c == '\n' || char.IsLetter(c) || c == '#') && MathNumber.TryParse(value, out _);
    }
}
