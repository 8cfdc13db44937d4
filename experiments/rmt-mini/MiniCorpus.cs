using System.Globalization;
using System.Text;
using Rmt.Training.Rmt;
using Rmt.Training.Tokenizers;

namespace RmtMini;

/// <summary>What a token of the plain text is, for accuracy per position type and for choosing key positions.</summary>
public enum PositionKind : byte
{
    Other,      // template words and punctuation of arithmetic sentences, end-of-text
    Text,       // Tiny Shakespeare
    Operand,    // a digit of a number being added: random, no reasoning can predict it
    Result,     // a digit of a sum: computable from the context, where reasoning can help
}

/// <summary>The miniature's text. Two kinds of documents:
/// <list type="bullet">
/// <item>Arithmetic sentences with two-digit operands (two or three of them, <c>operands</c>), e.g.
/// "she had 34 coins, found 58 more and 27 more, so 119 in all." The digits of the sum are the
/// positions where reasoning can help: a tiny model cannot add with carries in one forward pass,
/// but it can copy the result of a worked trace.</item>
/// <item>Tiny Shakespeare passages: natural text where reasoning barely helps.</item>
/// </list>
/// Worked traces (pretraining only) teach the reasoning format, in the exact format of
/// <see cref="ReasoningFormat"/>: context up to a position, an optional budget hint, &lt;think&gt;, a
/// trace, &lt;/think&gt;, the next character. An arithmetic trace is a list of steps (the operands,
/// the ones column, the tens column, the total, the digits already written and those left; the
/// answer is the first digit left), each written concisely ("4+8+7=19") or in words ("ones 4 plus 8
/// plus 7 is 19, carry 1."). With a budget hint B drawn from the whole budget range, steps are
/// written in words, in random order, until the trace reaches B: lengths cover the range
/// continuously and a hint below the concise length is overshot, as a real base overshoots small
/// budgets. Without a hint 75% of traces are fully verbose (large models are verbose unless told
/// otherwise). Text traces restate the end of the context.</summary>
public sealed class MiniCorpus(string shakespeare, int seed, int operands = 2)
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

    private readonly Random rng = new(seed);

    /// <summary>One arithmetic sentence, the character offset where its sum starts, and its operands.</summary>
    public (string Text, int SumStart, int[] Operands) Arithmetic()
    {
        var numbers = Enumerable.Range(0, operands).Select(_ => rng.Next(10, 100)).ToArray();
        var templates = operands == 3 ? Templates3 : Templates2;
        var template = templates[rng.Next(templates.Length)];
        var args = numbers.Cast<object>().Append(numbers.Sum()).ToArray();
        string prefix = string.Format(CultureInfo.InvariantCulture, template[..template.IndexOf("{" + operands + "}", StringComparison.Ordinal)], args);
        string text = string.Format(CultureInfo.InvariantCulture, template, args);
        return (text, prefix.Length, numbers);
    }

    /// <summary>A Shakespeare passage of about <paramref name="length"/> characters from [from, to).</summary>
    public string Passage(int length, int from, int to)
    {
        int start = rng.Next(from, Math.Max(from + 1, to - length));
        return shakespeare.Substring(start, Math.Min(length, shakespeare.Length - start));
    }

    /// <summary>The steps of an arithmetic trace, each as (concise, verbose). Concise in full:
    /// "4+8+7=19 3+5+2+1=11 =119 have 1 left 19"; verbose: "we add 34, 58 and 27. ones 4 plus 8 plus 7
    /// is 19, carry 1. tens 3 plus 5 plus 2 plus 1 is 11. sum 119, have 1, left 19".</summary>
    public static (string Concise, string Verbose)[] ArithmeticSteps(int[] numbers, int written)
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
    /// is at least <paramref name="budget"/> characters (a byte tokenizer: characters are tokens).</summary>
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

    /// <summary>Text traces restate the end of the context, so that the characters the next one depends
    /// on most sit right before the answer: concise "'not st'" (the last 7 characters, ~9 tokens),
    /// verbose a sentence ending with the last 24 (~95 tokens).</summary>
    public static string ConciseTextTrace(string context) => $"'{context[^Math.Min(7, context.Length)..]}'";

    public static string VerboseTextTrace(string context) =>
        $"a line of a play; i read the words before and guess what comes next. it ends '{context[^Math.Min(24, context.Length)..]}'";

    /// <summary>A worked example at an arithmetic sum digit or at a Shakespeare position. Arithmetic
    /// contexts are built like the plain text (earlier sentences of the same document before the one
    /// being summed), so that evaluation contexts look like training ones. Hinted budgets are drawn
    /// uniformly from [<paramref name="minBudget"/>, <paramref name="maxBudget"/>].</summary>
    public string Trace(ReasoningFormat format, bool arithmetic, int contextChars, int minBudget, int maxBudget)
    {
        bool hinted = rng.NextDouble() >= 0.5;
        int budget = rng.Next(minBudget, maxBudget + 1);
        string context, answer, trace;
        if (arithmetic)
        {
            var lead = new StringBuilder();
            for (int i = 0, n = rng.Next(0, 3); i < n; i++) lead.Append(Arithmetic().Text).Append(' ');
            var (text, sumStart, numbers) = Arithmetic();
            int written = rng.Next(numbers.Sum().ToString(CultureInfo.InvariantCulture).Length);
            context = Last(lead + text[..(sumStart + written)], contextChars);
            answer = text[sumStart + written].ToString();
            var steps = ArithmeticSteps(numbers, written);
            trace = hinted ? FollowBudget(steps, budget) : Join(steps, [.. steps.Select(_ => rng.NextDouble() < 0.75)]);
        }
        else
        {
            var passage = Passage(contextChars + 1, 0, shakespeare.Length / 2);
            context = Last(passage[..^1], contextChars);
            answer = passage[^1].ToString();
            string concise = ConciseTextTrace(context), verbose = VerboseTextTrace(context);
            trace = hinted ? (budget < (concise.Length + verbose.Length) / 2 ? concise : verbose) : rng.NextDouble() < 0.75 ? verbose : concise;
        }
        return format.Example(context, hinted ? budget : null, trace, answer);
    }

    private static string Last(string text, int chars) => text.Length > chars ? text[^chars..] : text;

    /// <summary>Plain mixed text as tokens: arithmetic documents (2-4 sentences) and Shakespeare
    /// passages, each followed by end-of-text; and the kind of every token.</summary>
    public (int[] Tokens, PositionKind[] Kinds) Plain(ITokenizer tokenizer, int tokens, double arithmeticShare, int shakespeareFrom, int shakespeareTo)
    {
        var ids = new List<int>(tokens + 512);
        var kinds = new List<PositionKind>(tokens + 512);
        void Add(int[] piece, PositionKind kind) { ids.AddRange(piece); kinds.AddRange(Enumerable.Repeat(kind, piece.Length)); }
        while (ids.Count < tokens)
        {
            if (rng.NextDouble() < arithmeticShare)
            {
                for (int i = 0, n = rng.Next(2, 5); i < n; i++)
                {
                    var (text, sumStart, numbers) = Arithmetic();
                    string sentence = (i > 0 ? " " : "") + text;
                    int offset = i > 0 ? 1 : 0, sumEnd = sumStart + numbers.Sum().ToString(CultureInfo.InvariantCulture).Length;
                    var piece = tokenizer.Encode(sentence);
                    if (piece.Length != sentence.Length)
                        throw new InvalidOperationException("rmt-mini needs a byte-level tokenizer (one token per ASCII character) to mark sum digits");
                    for (int c = 0; c < sentence.Length; c++)
                    {
                        int at = c - offset;
                        var kind = at >= sumStart && at < sumEnd ? PositionKind.Result
                            : char.IsAsciiDigit(sentence[c]) ? PositionKind.Operand : PositionKind.Other;
                        Add([piece[c]], kind);
                    }
                }
            }
            else Add(tokenizer.Encode(Passage(rng.Next(150, 400), shakespeareFrom, shakespeareTo)), PositionKind.Text);
            Add([tokenizer.EndOfText], PositionKind.Other);
        }
        return ([.. ids], [.. kinds]);
    }
}
