using System.Globalization;
using System.Text;

namespace Rmt.Contracts.Datasets;

/// <summary>The text form of next-token reasoning, for data written without a tokenizer (the demo's
/// datasets; Rmt.Training's ReasoningFormat is the token form and uses the same strings):
/// <c>{context}{hint}&lt;think&gt;{reasoning}&lt;/think&gt;{answer}&lt;|endoftext|&gt;</c>.</summary>
public static class ReasoningText
{
    public const string ThinkStart = "<think>";
    public const string ThinkEnd = "</think>";
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The budget hint, e.g. " [budget 12]": plain text the model reads with its ordinary tokens.</summary>
    public static string BudgetHint(int budget) => string.Create(CultureInfo.InvariantCulture, $" [budget {budget}]");

    /// <summary>A worked next-token example with a single-token answer.</summary>
    public static string Example(string context, int? budget, string reasoning, string answer) =>
        $"{context}{(budget is int b ? BudgetHint(b) : "")}{ThinkStart}{reasoning}{ThinkEnd}{answer}{EndOfText}";
}

/// <summary>Arithmetic sentences whose sums need reasoning, and their worked traces: the data of the
/// miniature (experiments/rmt-mini) and of the demo (./run.sh). A sentence adds two or three two-digit
/// numbers, e.g. "she had 34 coins, found 58 more and 27 more, so 119 in all."; the digits of the sum
/// are computable from the context, but a tiny model cannot add with carries in one forward pass; it
/// can copy the result of a worked trace. A trace is a list of steps (the operands, the ones column,
/// the tens column, the total, the digits already written and those left; the answer is the first
/// digit left), each written concisely ("4+8+7=19") or in words ("ones 4 plus 8 plus 7 is 19, carry
/// 1."). All randomness comes from the caller's <see cref="Random"/>, in a fixed order.</summary>
public sealed class ArithmeticText(Random rng, int operands = 2, int templates = 5)
{
    private static readonly string[] Templates2 =
    [
        "{0} plus {1} is {2}.",
        "she had {0} coins and found {1} more, so {2} in all.",
        "the box held {0} red and {1} blue beads: {2} beads.",
        "add {0} to {1} and you get {2}.",
        "a farmer counts {0} sheep and {1} goats, {2} animals.",
    ];

    private static readonly string[] Templates3 =
    [
        "{0} plus {1} plus {2} is {3}.",
        "she had {0} coins, found {1} more and {2} more, so {3} in all.",
        "the box held {0} red, {1} blue and {2} green beads: {3} beads.",
        "add {0}, {1} and {2} and you get {3}.",
        "a farmer counts {0} sheep, {1} goats and {2} hens, {3} animals.",
    ];

    public int Operands { get; } = operands is 2 or 3 ? operands : throw new ArgumentOutOfRangeException(nameof(operands), operands, "use 2 or 3 operands");

    /// <summary>How many sentence templates are drawn from (the first ones): 1 leaves the operands and
    /// the sums as the only uncertain characters of a sentence.</summary>
    public int Templates { get; } = templates is >= 1 and <= 5 ? templates : throw new ArgumentOutOfRangeException(nameof(templates), templates, "use 1 to 5 templates");

    /// <summary>One sentence, the character offset where its sum starts, and its operands.</summary>
    public (string Text, int SumStart, int[] Operands) Sentence()
    {
        var numbers = Enumerable.Range(0, Operands).Select(_ => rng.Next(10, 100)).ToArray();
        var template = (Operands == 3 ? Templates3 : Templates2)[rng.Next(Templates)];
        var args = numbers.Cast<object>().Append(numbers.Sum()).ToArray();
        string prefix = string.Format(CultureInfo.InvariantCulture, template[..template.IndexOf("{" + Operands + "}", StringComparison.Ordinal)], args);
        string text = string.Format(CultureInfo.InvariantCulture, template, args);
        return (text, prefix.Length, numbers);
    }

    /// <summary>A document of 2-4 sentences joined by spaces.</summary>
    public string Document() => string.Join(' ', Enumerable.Range(0, rng.Next(2, 5)).Select(_ => Sentence().Text));

    /// <summary>The steps of a trace, each as (concise, verbose). Concise in full: "4+8+7=19 3+5+2+1=11
    /// =119 have 1 left 19"; verbose: "we add 34, 58 and 27. ones 4 plus 8 plus 7 is 19, carry 1. tens 3
    /// plus 5 plus 2 plus 1 is 11. sum 119, have 1, left 19".</summary>
    public static (string Concise, string Verbose)[] Steps(int[] numbers, int written)
    {
        int ones = numbers.Sum(n => n % 10), carry = ones / 10, tens = numbers.Sum(n => n / 10) + carry;
        string sum = numbers.Sum().ToString(CultureInfo.InvariantCulture);
        string have = written == 0 ? "-" : sum[..written], left = sum[written..];
        string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        var names = numbers.Select(n => n.ToString(CultureInfo.InvariantCulture)).ToArray();
        string listed = names.Length == 2 ? $"{names[0]} and {names[1]}" : $"{string.Join(", ", names[..^1])} and {names[^1]}";
        return
        [
            ("", $"we add {listed}."),
            (I($"{string.Join("+", numbers.Select(n => n % 10))}={ones}"), I($"ones {string.Join(" plus ", numbers.Select(n => n % 10))} is {ones}, carry {carry}.")),
            (I($"{string.Join("+", numbers.Select(n => n / 10))}+{carry}={tens}"), I($"tens {string.Join(" plus ", numbers.Select(n => n / 10))} plus {carry} is {tens}.")),
            ($"={sum}", $"sum {sum},"),
            ($"have {have} left {left}", $"have {have}, left {left}"),
        ];
    }

    /// <summary>Joins the steps, verbose where <paramref name="verbose"/> says so.</summary>
    public static string Join((string Concise, string Verbose)[] steps, bool[] verbose) =>
        string.Join(' ', steps.Select((s, i) => verbose[i] ? s.Verbose : s.Concise).Where(s => s.Length > 0));

    /// <summary>A trace that follows a budget hint: steps turn verbose in random order until the trace
    /// is at least <paramref name="budget"/> characters (a byte tokenizer: characters are tokens). A
    /// hint below the concise length is overshot, as a real base overshoots small budgets.</summary>
    public string FollowBudget((string Concise, string Verbose)[] steps, int budget)
    {
        var verbose = new bool[steps.Length];
        foreach (var i in Enumerable.Range(0, steps.Length).OrderBy(_ => rng.Next()))
        {
            if (Join(steps, verbose).Length >= budget) break;
            verbose[i] = true;
        }
        return Join(steps, verbose);
    }

    /// <summary>A worked example at a sum digit: the context (0-2 earlier sentences, then the sentence
    /// up to the digit, cut to its last <paramref name="contextChars"/> characters), the digit, and a
    /// trace: following <paramref name="budget"/> when given, else each step verbose with chance 3/4
    /// (models are verbose unless told otherwise).</summary>
    public (string Context, string Answer, string Trace) WorkedExample(int contextChars, int? budget)
    {
        var lead = new StringBuilder();
        for (int i = 0, n = rng.Next(0, 3); i < n; i++) lead.Append(Sentence().Text).Append(' ');
        var (text, sumStart, numbers) = Sentence();
        int written = rng.Next(numbers.Sum().ToString(CultureInfo.InvariantCulture).Length);
        string context = Last(lead + text[..(sumStart + written)], contextChars);
        string answer = text[sumStart + written].ToString();
        var steps = Steps(numbers, written);
        string trace = budget is int b ? FollowBudget(steps, b) : Join(steps, [.. steps.Select(_ => rng.NextDouble() < 0.75)]);
        return (context, answer, trace);
    }

    /// <summary>A worked example at any other character of a document (a template word, an operand
    /// digit, a space): reasoning cannot compute these, so the trace restates the end of the context,
    /// concisely ("'s 34 an'", about 9 tokens) when the hint is below the middle of the two lengths,
    /// else in words (about 90), and without a hint verbose with chance 3/4. The answer is the actual
    /// next character: reasoning must not cost the model what it predicts without it.</summary>
    public (string Context, string Answer, string Trace) RestatingExample(int contextChars, int? budget)
    {
        string document = Document();
        int at = rng.Next(1, document.Length);
        string context = Last(document[..at], contextChars), answer = document[at].ToString();
        string concise = $"'{Last(context, 7)}'";
        string verbose = $"i read the sentence so far and copy its end, then write what comes next: '{Last(context, 16)}'";
        string trace = budget is int b ? (b < (concise.Length + verbose.Length) / 2 ? concise : verbose) : rng.NextDouble() < 0.75 ? verbose : concise;
        return (context, answer, trace);
    }

    /// <summary>A sentence asked up to its sum, as a math problem: the question, the concise column
    /// steps as the solution (ones, tens, total: "9+6=15 4+5+1=10 =105", the start of the concise
    /// trace next-token reasoning writes at the sum's first digit, on one line as it does) and the sum.</summary>
    public (string Question, string Solution, int Answer) Problem()
    {
        var (text, sumStart, numbers) = Sentence();
        var steps = Steps(numbers, written: 0);
        return (text[..sumStart].TrimEnd(), string.Join(" ", steps[1..4].Select(s => s.Concise)), numbers.Sum());
    }

    public static string Last(string text, int chars) => text.Length > chars ? text[^chars..] : text;
}
