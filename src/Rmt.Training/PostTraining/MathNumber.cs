using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;

namespace Rmt.Training.PostTraining;

/// <summary>An exact rational number: what a math answer normalises to, so that "1,080", "$1080.00",
/// "1080 dollars" are one value and 3/4 == 0.75 holds exactly (no floating-point tolerance). Values
/// that are only approximately equal (0.333 and 1/3) stay different, as a grader should.</summary>
public readonly partial record struct MathNumber
{
    public BigInteger Numerator { get; }
    public BigInteger Denominator { get; }   // always > 0; the fraction is reduced

    public MathNumber(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException("a MathNumber's denominator is 0");
        if (denominator.Sign < 0) { numerator = -numerator; denominator = -denominator; }
        var gcd = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!gcd.IsZero && !gcd.IsOne) { numerator /= gcd; denominator /= gcd; }
        Numerator = numerator;
        Denominator = numerator.IsZero ? BigInteger.One : denominator;
    }

    public static MathNumber Integer(long value) => new(value, BigInteger.One);

    public bool IsInteger => Denominator.IsOne;

    public override string ToString() => IsInteger
        ? Numerator.ToString(CultureInfo.InvariantCulture)
        : $"{Numerator.ToString(CultureInfo.InvariantCulture)}/{Denominator.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses one answer written the ways GSM8K and model outputs write them: thousands
    /// separators ("1,080"), currency signs ("$18", "-$5", "\$18"), trailing zeros ("16.00"),
    /// negatives ("-7", "−7"), fractions ("3/4", "1 1/2", "\frac{3}{4}"), percent ("60%" is 60,
    /// GSM8K's convention), trailing units or words without digits ("160 minutes", "10 mph"), a final
    /// full stop, and LaTeX wrappers (\text{}, \left, \!, {,}). Anything with a second number or
    /// otherwise ambiguous ("1,08", "3 apples and 4 pears") is rejected rather than guessed.</summary>
    public static bool TryParse(string? text, out MathNumber value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = CleanLatex(text.Trim());
        var match = AnswerPattern().Match(s);
        if (!match.Success) return false;
        var rest = match.Groups["rest"].Value;
        if (rest.Any(char.IsAsciiDigit)) return false;   // a second number: not one answer
        var negative = match.Groups["sign"].Success;
        MathNumber parsed;
        if (match.Groups["whole"].Success)
        {
            // mixed number "1 1/2"
            var whole = BigInteger.Parse(match.Groups["whole"].Value, CultureInfo.InvariantCulture);
            var num = BigInteger.Parse(match.Groups["fnum"].Value, CultureInfo.InvariantCulture);
            var den = BigInteger.Parse(match.Groups["fden"].Value, CultureInfo.InvariantCulture);
            if (den.IsZero) return false;
            parsed = new MathNumber(whole * den + num, den);
        }
        else if (match.Groups["fden"].Success)
        {
            var num = BigInteger.Parse(match.Groups["fnum"].Value, CultureInfo.InvariantCulture);
            var den = BigInteger.Parse(match.Groups["fden"].Value, CultureInfo.InvariantCulture);
            if (den.IsZero) return false;
            parsed = new MathNumber(num, den);
        }
        else
        {
            parsed = ParseDecimal(match.Groups["dec"].Value.Replace(",", "", StringComparison.Ordinal));
        }
        value = negative ? new MathNumber(-parsed.Numerator, parsed.Denominator) : parsed;
        return true;
    }

    public static MathNumber Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not a number the answer checker understands");

    private static MathNumber ParseDecimal(string digits)
    {
        var dot = digits.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0) return new MathNumber(BigInteger.Parse(digits, CultureInfo.InvariantCulture), BigInteger.One);
        var intPart = dot == 0 ? "0" : digits[..dot];
        var fraction = digits[(dot + 1)..];
        var scale = BigInteger.Pow(10, fraction.Length);
        var numerator = BigInteger.Parse(intPart, CultureInfo.InvariantCulture) * scale
            + (fraction.Length == 0 ? BigInteger.Zero : BigInteger.Parse(fraction, CultureInfo.InvariantCulture));
        return new MathNumber(numerator, scale);
    }

    private static string CleanLatex(string s)
    {
        s = s.Replace('\u2212', '-').Replace('\u2013', '-');               // unicode minus / en dash
        s = FracPattern().Replace(s, "${n}/${d}");                           // \frac{3}{4} -> 3/4
        s = TextPattern().Replace(s, " ${t}");                               // \text{ dollars} -> dollars
        s = s.Replace("{,}", ",", StringComparison.Ordinal)                  // 1{,}000
             .Replace("\\!", "", StringComparison.Ordinal)
             .Replace("\\,", ",", StringComparison.Ordinal)                  // 1\,000
             .Replace("\\left", "", StringComparison.Ordinal)
             .Replace("\\right", "", StringComparison.Ordinal)
             .Replace("\\%", "%", StringComparison.Ordinal)
             .Replace("\\$", "$", StringComparison.Ordinal);
        s = s.Trim().Trim('$', ' ').Trim();                                  // $...$ math mode or a currency sign
        if (s.StartsWith('{') && s.EndsWith('}')) s = s[1..^1].Trim();
        return s;
    }

    // sign, optional currency, then a mixed number, fraction or decimal (with thousands groups),
    // then anything without digits (units, percent, a full stop).
    [GeneratedRegex(@"^(?<sign>-\s*)?[$€£¥]?\s*(?:(?<whole>[0-9]+)\s+(?<fnum>[0-9]+)/(?<fden>[0-9]+)|(?<fnum>[0-9]+)\s*/\s*(?<fden>[0-9]+)|(?<dec>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?![[0-9],]*[0-9])(?<rest>[^0-9]*)$")]
    private static partial Regex AnswerPattern();

    [GeneratedRegex(@"\\[dt]?frac\s*\{\s*(?<n>-?[0-9]+)\s*\}\s*\{\s*(?<d>[0-9]+)\s*\}")]
    private static partial Regex FracPattern();

    [GeneratedRegex(@"\\(?:text|mathrm|textbf|mbox)\s*\{(?<t>[^{}]*)\}")]
    private static partial Regex TextPattern();
}
