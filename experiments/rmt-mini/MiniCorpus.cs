using System.Globalization;
using Rmt.Training.Rmt;
using Rmt.Training.Tokenizers;

namespace RmtMini;

/// <summary>The miniature's text. Two kinds of documents:
/// <list type="bullet">
/// <item>Arithmetic sentences with two-digit operands, e.g. "she had 34 coins and found 58 more, so
/// 92 in all." The digits of the sum are the positions where reasoning measurably helps: a tiny
/// model cannot add with carries in one forward pass, but it can copy the result of a worked trace.</item>
/// <item>Tiny Shakespeare passages: natural text where reasoning barely helps.</item>
/// </list>
/// Worked traces (pretraining only) teach the reasoning format on both kinds, in the exact format of
/// <see cref="ReasoningFormat"/>: context up to a position, an optional budget hint, &lt;think&gt;,
/// a trace, &lt;/think&gt;, the next character. Arithmetic traces come concise ("4+8=12 3+5+1=9 =92
/// have 9 left 2", ~30 characters) or verbose (~100 characters); text traces restate the end of the
/// context (concise ~9 characters, verbose ~95). With a hint the trace length follows the hint, without one
/// 75% are verbose, as large models are verbose unless told otherwise.</summary>
public sealed class MiniCorpus(string shakespeare, int seed)
{
    private static readonly string[] Templates =
    [
        "{0} plus {1} is {2}.",
        "she had {0} coins and found {1} more, so {2} in all.",
        "the box held {0} red and {1} blue beads: {2} beads.",
        "add {0} to {1} and you get {2}.",
        "a farmer counts {0} sheep and {1} goats, {2} animals.",
    ];

    private readonly Random rng = new(seed);

    /// <summary>One arithmetic sentence and the character offset where its sum starts.</summary>
    public (string Text, int SumStart, int A, int B) Arithmetic()
    {
        int a = rng.Next(10, 100), b = rng.Next(10, 100);
        var template = Templates[rng.Next(Templates.Length)];
        string prefix = string.Format(CultureInfo.InvariantCulture, template[..template.IndexOf("{2}", StringComparison.Ordinal)], a, b);
        string text = string.Format(CultureInfo.InvariantCulture, template, a, b, a + b);
        return (text, prefix.Length, a, b);
    }

    /// <summary>A Shakespeare passage of about <paramref name="length"/> characters from [from, to).</summary>
    public string Passage(int length, int from, int to)
    {
        int start = rng.Next(from, Math.Max(from + 1, to - length));
        return shakespeare.Substring(start, Math.Min(length, shakespeare.Length - start));
    }

    /// <summary>The concise arithmetic trace: column sums, the total, the digits of it already written
    /// at the end of the context ("-" for none) and those left, e.g. "4+8=12 3+5+1=9 =92 have 9 left 2"
    /// (~30 characters). The answer is the first digit after "left", so the hard part (adding, and
    /// finding where the context stopped) is reasoning.</summary>
    public static string ConciseTrace(int a, int b, int written)
    {
        var (ones, carry, tens, sum) = Columns(a, b);
        return string.Create(CultureInfo.InvariantCulture, $"{a % 10}+{b % 10}={ones} {a / 10}+{b / 10}+{carry}={tens} ={sum} have {Have(sum, written)} left {sum[written..]}");
    }

    /// <summary>The same steps in words (~100 characters), as a verbose model would write them.</summary>
    public static string VerboseTrace(int a, int b, int written)
    {
        var (ones, carry, tens, sum) = Columns(a, b);
        return string.Create(CultureInfo.InvariantCulture,
            $"we add {a} and {b}. ones {a % 10} plus {b % 10} is {ones}, carry {carry}. tens {a / 10} plus {b / 10} plus {carry} is {tens}. sum {sum}, have {Have(sum, written)}, left {sum[written..]}");
    }

    /// <summary>Column-by-column addition of two two-digit numbers, and the total as text.</summary>
    private static (int Ones, int Carry, int Tens, string Sum) Columns(int a, int b)
    {
        int ones = a % 10 + b % 10, carry = ones / 10;
        return (ones, carry, a / 10 + b / 10 + carry, (a + b).ToString(CultureInfo.InvariantCulture));
    }

    private static string Have(string sum, int written) => written == 0 ? "-" : sum[..written];

    /// <summary>Text traces restate the end of the context, so that the characters the next one depends
    /// on most sit right before the answer: concise "'not st'" (the last 7 characters, ~9 tokens),
    /// verbose a sentence ending with the last 24 (~95 tokens).</summary>
    public static string ConciseTextTrace(string context) => $"'{context[^Math.Min(7, context.Length)..]}'";

    public static string VerboseTextTrace(string context) =>
        $"a line of a play; i read the words before and guess what comes next. it ends '{context[^Math.Min(24, context.Length)..]}'";

    /// <summary>A worked example at an arithmetic sum digit or at a Shakespeare position. Arithmetic
    /// contexts are built like the plain text (earlier sentences of the same document before the one
    /// being summed), so that evaluation contexts look like training ones.</summary>
    public string Trace(ReasoningFormat format, bool arithmetic, int contextChars)
    {
        string context, answer, concise, verbose;
        if (arithmetic)
        {
            var lead = new System.Text.StringBuilder();
            for (int i = 0, n = rng.Next(0, 3); i < n; i++) lead.Append(Arithmetic().Text).Append(' ');
            var (text, sumStart, a, b) = Arithmetic();
            int written = rng.Next((a + b).ToString(CultureInfo.InvariantCulture).Length);
            context = Last(lead + text[..(sumStart + written)], contextChars);
            answer = text[sumStart + written].ToString();
            (concise, verbose) = (ConciseTrace(a, b, written), VerboseTrace(a, b, written));
        }
        else
        {
            var passage = Passage(contextChars + 1, 0, shakespeare.Length / 2);
            context = Last(passage[..^1], contextChars);
            answer = passage[^1].ToString();
            (concise, verbose) = (ConciseTextTrace(context), VerboseTextTrace(context));
        }
        double u = rng.NextDouble();
        if (u < 0.5)
        {
            // no hint: mostly verbose
            string trace = rng.NextDouble() < 0.75 ? verbose : concise;
            return format.Example(context, null, trace, answer);
        }
        bool shortBudget = rng.NextDouble() < 0.5;
        string hinted = shortBudget ? concise : verbose;
        int budget = Math.Max(1, hinted.Length + rng.Next(-4, 5));
        return format.Example(context, budget, hinted, answer);
    }

    private static string Last(string text, int chars) => text.Length > chars ? text[^chars..] : text;

    /// <summary>Plain mixed text as tokens: arithmetic documents (2-4 sentences) and Shakespeare
    /// passages, each followed by end-of-text; also the token positions of every sum digit.</summary>
    public (int[] Tokens, int[] SumPositions) Plain(ITokenizer tokenizer, int tokens, double arithmeticShare, int shakespeareFrom, int shakespeareTo)
    {
        var ids = new List<int>(tokens + 512);
        var sums = new List<int>();
        while (ids.Count < tokens)
        {
            if (rng.NextDouble() < arithmeticShare)
            {
                for (int i = 0, n = rng.Next(2, 5); i < n; i++)
                {
                    var (text, sumStart, a, b) = Arithmetic();
                    var prefix = tokenizer.Encode((i > 0 ? " " : "") + text[..sumStart]);
                    ids.AddRange(prefix);
                    int digits = (a + b).ToString(CultureInfo.InvariantCulture).Length;
                    for (int d = 0; d < digits; d++) sums.Add(ids.Count + d);
                    ids.AddRange(tokenizer.Encode(text[sumStart..]));
                }
            }
            else ids.AddRange(tokenizer.Encode(Passage(rng.Next(150, 400), shakespeareFrom, shakespeareTo)));
            ids.Add(tokenizer.EndOfText);
        }
        return ([.. ids], [.. sums]);
    }
}
