using System.Text.RegularExpressions;

namespace Rmt.Training.PostTraining;

/// <summary>Where an extracted answer came from, strongest first.</summary>
public enum AnswerSource
{
    Hashes,       // "#### 18": GSM8K's marker and our prompt format's
    Boxed,        // "\boxed{18}": what larger models are trained to write
    LastNumber,   // the last number in the answer text: the usual fallback
}

/// <summary>An answer found in a model output or a reference solution.</summary>
public sealed record ExtractedAnswer(string Text, AnswerSource Source, MathNumber Value);

/// <summary>Finds the final answer in a model output or a GSM8K solution.
/// <para>Region: with reasoning tags, only the text after the last <c>&lt;/think&gt;</c> is the
/// answer (numbers inside the reasoning are working, not answers); an output that opens
/// <c>&lt;think&gt;</c> and never closes it was cut off and has no answer. Without tags the whole
/// text is the region (GSM8K references, models not trained with tags).</para>
/// <para>Within the region, in order: the last <c>#### x</c>, the last <c>\boxed{x}</c>, the last
/// number. A marker whose content does not parse falls back to the first number after the marker.
/// GSM8K calculator annotations <c>&lt;&lt;6*2=12&gt;&gt;</c> are removed first.</para></summary>
public static partial class AnswerExtractor
{
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";

    public static ExtractedAnswer? Extract(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var region = AnswerRegion(text);
        if (region is null) return null;
        region = StripCalculatorAnnotations(region);
        return FromHashes(region) ?? FromBoxed(region) ?? FromLastNumber(region);
    }

    /// <summary>The text after the last &lt;/think&gt;; the whole text when there are no tags; null
    /// when reasoning was opened and never closed.</summary>
    public static string? AnswerRegion(string text)
    {
        var close = text.LastIndexOf(ThinkClose, StringComparison.Ordinal);
        if (close >= 0) return text[(close + ThinkClose.Length)..];
        return text.Contains(ThinkOpen, StringComparison.Ordinal) ? null : text;
    }

    public static string StripCalculatorAnnotations(string text) => CalculatorPattern().Replace(text, "");

    private static ExtractedAnswer? FromHashes(string region)
    {
        var marker = region.LastIndexOf("####", StringComparison.Ordinal);
        if (marker < 0) return null;
        var rest = region[(marker + 4)..];
        var newline = rest.IndexOf('\n', StringComparison.Ordinal);
        var line = (newline >= 0 ? rest[..newline] : rest).Trim();
        return Parsed(line, AnswerSource.Hashes) ?? FirstNumber(line, AnswerSource.Hashes);
    }

    private static ExtractedAnswer? FromBoxed(string region)
    {
        var start = region.LastIndexOf("\\boxed", StringComparison.Ordinal);
        if (start < 0) return null;
        var open = region.IndexOf('{', start);
        if (open < 0) return null;
        var depth = 0;
        for (var i = open; i < region.Length; i++)
        {
            if (region[i] == '{') depth++;
            else if (region[i] == '}' && --depth == 0)
            {
                var inner = region[(open + 1)..i].Trim();
                return Parsed(inner, AnswerSource.Boxed) ?? LastNumberIn(inner, AnswerSource.Boxed);
            }
        }
        return null;   // unbalanced braces: the box was never closed
    }

    private static ExtractedAnswer? FromLastNumber(string region) => LastNumberIn(region, AnswerSource.LastNumber);

    private static ExtractedAnswer? Parsed(string text, AnswerSource source) =>
        MathNumber.TryParse(text, out var value) ? new ExtractedAnswer(text, source, value) : null;

    private static ExtractedAnswer? FirstNumber(string text, AnswerSource source)
    {
        foreach (Match match in NumberPattern().Matches(text))
            if (Parsed(match.Value, source) is { } found) return found;
        return null;
    }

    private static ExtractedAnswer? LastNumberIn(string text, AnswerSource source)
    {
        var matches = NumberPattern().Matches(text);
        for (var i = matches.Count - 1; i >= 0; i--)
            if (Parsed(matches[i].Value, source) is { } found) return found;
        return null;
    }

    [GeneratedRegex(@"<<[^<>]*>>")]
    private static partial Regex CalculatorPattern();

    // A number in running text: a minus counts as a sign only where it cannot be subtraction
    // (not after a digit, letter or closing bracket); then currency, thousands groups, decimals,
    // a simple fraction.
    [GeneratedRegex(@"(?:(?<![\w)\]}])-\s?)?[$€£¥]?(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?(?:/[0-9]+(?![[0-9].]))?|\.[0-9]+)")]
    private static partial Regex NumberPattern();
}

/// <summary>Compares a model output with a problem's reference answer, exactly.</summary>
public static class AnswerChecker
{
    /// <summary>True when the output's extracted answer equals the reference's value.</summary>
    public static bool IsCorrect(string? output, MathProblem problem) => IsCorrect(output, ReferenceValue(problem));

    public static bool IsCorrect(string? output, MathNumber reference) =>
        AnswerExtractor.Extract(output) is { } answer && answer.Value == reference;

    public static MathNumber ReferenceValue(MathProblem problem) =>
        MathNumber.TryParse(problem.FinalAnswer, out var value)
            ? value
            : throw new MathDataException($"the reference answer '{problem.FinalAnswer}' of \"{Truncate(problem.Question)}\" is not a number");

    private static string Truncate(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
