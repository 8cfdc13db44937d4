using System.Globalization;
using System.Text;
using Rmt.Contracts.Datasets;
using Rmt.Training.MidTraining;
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
/// "she had 34 coins, found 58 more and 27 more, so 119 in all." (<see cref="ArithmeticText"/>, which
/// also writes their worked traces). The digits of the sum are the positions where reasoning can help.</item>
/// <item>Tiny Shakespeare passages: natural text where reasoning barely helps.</item>
/// </list>
/// Worked traces (pretraining only) teach the reasoning format, in the exact format of
/// <see cref="ReasoningFormat"/>: context up to a position, an optional budget hint, &lt;think&gt;, a
/// trace, &lt;/think&gt;, the next character. With a budget hint B drawn from the whole budget range,
/// arithmetic steps are written in words, in random order, until the trace reaches B: lengths cover
/// the range continuously and a hint below the concise length is overshot, as a real base overshoots
/// small budgets. Without a hint 75% of traces are fully verbose (large models are verbose unless
/// told otherwise). Text traces restate the end of the context.</summary>
public sealed class MiniCorpus
{
    private readonly string shakespeare;
    private readonly Random rng;
    private readonly ArithmeticText arithmetic;

    public MiniCorpus(string shakespeare, int seed, int operands = 2)
    {
        this.shakespeare = shakespeare;
        rng = new Random(seed);
        arithmetic = new ArithmeticText(rng, operands);   // shares rng: one stream, as before the split
    }

    /// <summary>One arithmetic sentence, the character offset where its sum starts, and its operands.</summary>
    public (string Text, int SumStart, int[] Operands) Arithmetic() => arithmetic.Sentence();

    /// <summary>The sentence asked up to its sum, as a math problem (rmt-mini-post).</summary>
    public (string Question, string Solution, int Answer) Problem() => arithmetic.Problem();

    /// <summary>A Shakespeare passage of about <paramref name="length"/> characters from [from, to).</summary>
    public string Passage(int length, int from, int to)
    {
        int start = rng.Next(from, Math.Max(from + 1, to - length));
        return shakespeare.Substring(start, Math.Min(length, shakespeare.Length - start));
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
            (context, answer, trace) = this.arithmetic.WorkedExample(contextChars, hinted ? budget : null);
        else
        {
            var passage = Passage(contextChars + 1, 0, shakespeare.Length / 2);
            context = ArithmeticText.Last(passage[..^1], contextChars);
            answer = passage[^1].ToString();
            string concise = ConciseTextTrace(context), verbose = VerboseTextTrace(context);
            trace = hinted ? (budget < (concise.Length + verbose.Length) / 2 ? concise : verbose) : rng.NextDouble() < 0.75 ? verbose : concise;
        }
        return format.Example(context, hinted ? budget : null, trace, answer);
    }

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
