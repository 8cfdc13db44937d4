using System.Globalization;
using System.Text;
using System.Text.Json;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Contracts.Datasets;

namespace Rmt.Local.Demo;

/// <summary>The demo's datasets, made here so that ./run.sh needs nothing downloaded; the design of
/// experiments/rmt-mini at a smaller size (<see cref="ArithmeticText"/>: sentences that add two-digit
/// numbers, three in the demo, where the digits of each sum need reasoning). The demo draws every
/// sentence from one template ("34 plus 58 plus 27 is 119."), so that the uncertain characters of its text are the
/// operands (random: the pipeline's noise threshold leaves them out) and the sums (which reasoning
/// computes), not the choice of the next sentence's wording:
/// <list type="bullet">
/// <item>pretrain.txt: plain arithmetic documents and worked next-token examples in the reasoning
/// format (context, an optional budget hint, &lt;think&gt; trace &lt;/think&gt;, the next character):
/// column steps at sum digits, a restatement of the context elsewhere, with hints over the whole
/// budget range, so the base learns to reason and roughly to follow a budget before RL.</item>
/// <item>corpus.txt (mid-training) and corpus-eval.txt (held-out text on which mid-training scores
/// itself, the untrained base with the same hint, and its argmax): plain documents, no traces.</item>
/// <item>math-train.jsonl, math-test.jsonl: the same sentences asked up to their sum, in GSM8K's format
/// ({"question", "answer": "... #### n"}) with the column steps as the worked solution, so the skill
/// mid-training sharpened is the one post-training asks for. No held-out question is a training one.</item>
/// </list>
/// Seeded: the same files every time. With a GSM8K folder (train.jsonl, test.jsonl) its problems are
/// used for post-training instead.</summary>
public static class DemoData
{
    public const string DatasetName = "demo";
    public static readonly string Pretrain = BlobLayout.Dataset(DatasetName, "pretrain.txt");
    public static readonly string Corpus = BlobLayout.Dataset(DatasetName, "corpus.txt");
    public static readonly string CorpusEval = BlobLayout.Dataset(DatasetName, "corpus-eval.txt");
    public static readonly string MathTrain = BlobLayout.Dataset(DatasetName, "math-train.jsonl");
    public static readonly string MathTest = BlobLayout.Dataset(DatasetName, "math-test.jsonl");

    /// <summary>Every sentence of every file from the first template ("34 plus 58 plus 27 is 119.").</summary>
    private const int Templates = 1;

    /// <summary>Three two-digit numbers per sentence: with two, the untrained base's argmax was already
    /// right on 90% of the held-out key positions, leaving RL nothing to add (docs/rmt-trainer.md).</summary>
    public const int Operands = 3;

    /// <summary>Writes the five files into <paramref name="folder"/> and returns their local paths.</summary>
    public static DemoFiles Write(string folder, DemoDataSize size, int seed = 1234, string? gsm8kFolder = null)
    {
        Directory.CreateDirectory(folder);
        var files = new DemoFiles(Path.Combine(folder, "pretrain.txt"), Path.Combine(folder, "corpus.txt"), Path.Combine(folder, "corpus-eval.txt"),
            Path.Combine(folder, "math-train.jsonl"), Path.Combine(folder, "math-test.jsonl"));
        // One stream per file, so that changing one size leaves the other files as they were.
        File.WriteAllText(files.Pretrain, PretrainText(new Random(seed), size));
        File.WriteAllText(files.Corpus, PlainText(new ArithmeticText(new Random(seed + 1), Operands, Templates), size.CorpusDocuments));
        File.WriteAllText(files.CorpusEval, PlainText(new ArithmeticText(new Random(seed + 2), Operands, Templates), size.EvalDocuments));
        if (gsm8kFolder is not null)
        {
            CopyHead(Path.Combine(gsm8kFolder, "train.jsonl"), files.MathTrain, size.TrainProblems);
            CopyHead(Path.Combine(gsm8kFolder, "test.jsonl"), files.MathTest, size.TestProblems);
        }
        else
        {
            var problems = Problems(new ArithmeticText(new Random(seed + 3), Operands, Templates), size.TrainProblems + size.TestProblems);
            File.WriteAllLines(files.MathTest, problems[..size.TestProblems]);
            File.WriteAllLines(files.MathTrain, problems[size.TestProblems..]);
        }
        return files;
    }

    /// <summary>Uploads the files to datasets/demo/ (overwriting: they are the same for the same seed).</summary>
    public static async Task UploadAsync(IArtifactStore store, DemoFiles files, CancellationToken ct = default)
    {
        await store.UploadFileAsync(Pretrain, files.Pretrain, ct);
        await store.UploadFileAsync(Corpus, files.Corpus, ct);
        await store.UploadFileAsync(CorpusEval, files.CorpusEval, ct);
        await store.UploadFileAsync(MathTrain, files.MathTrain, ct);
        await store.UploadFileAsync(MathTest, files.MathTest, ct);
    }

    /// <summary>Plain documents of 2-4 sentences, one per line, each ending with end-of-text.</summary>
    public static string PlainText(ArithmeticText text, int documents)
    {
        var lines = new StringBuilder();
        for (var i = 0; i < documents; i++) lines.Append(text.Document()).AppendLine(ReasoningText.EndOfText);
        return lines.ToString();
    }

    /// <summary>Plain documents and worked examples, interleaved: two thirds at sum digits (column steps),
    /// one third at any other character (the trace restates the context's end), so the base reasons
    /// everywhere an evaluation may ask it to. Half the examples carry a budget hint drawn uniformly
    /// from [HintMin, HintMax]; the trace follows it (overshooting hints below the concise length); the
    /// rest are mostly verbose.</summary>
    public static string PretrainText(Random random, DemoDataSize size)
    {
        var text = new ArithmeticText(random, Operands, Templates);   // one seeded stream: sentences, hints and order
        var pieces = new List<string>();
        for (var i = 0; i < size.PretrainDocuments; i++) pieces.Add(text.Document() + ReasoningText.EndOfText);
        for (var i = 0; i < size.Traces; i++)
        {
            int? budget = random.NextDouble() < 0.5 ? random.Next(size.HintMin, size.HintMax + 1) : null;
            var (context, answer, trace) = i % 3 != 0 ? text.WorkedExample(size.ContextChars, budget) : text.RestatingExample(size.ContextChars, budget);
            pieces.Add(ReasoningText.Example(context, budget, trace, answer));
        }
        return string.Join('\n', pieces.OrderBy(_ => random.Next())) + "\n";
    }

    /// <summary>Distinct problems in GSM8K's format: "question", "answer" = column steps then "#### sum".</summary>
    public static string[] Problems(ArithmeticText text, int count)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var lines = new List<string>(count);
        while (lines.Count < count)
        {
            var (question, solution, answer) = text.Problem();
            if (!seen.Add(question)) continue;
            var line = new Dictionary<string, string>
            {
                ["question"] = question,
                ["answer"] = $"{solution}\n#### {answer.ToString(CultureInfo.InvariantCulture)}",
            };
            lines.Add(JsonSerializer.Serialize(line, RmtJsonContext.Default.DictionaryStringString));
        }
        return [.. lines];
    }

    private static void CopyHead(string source, string target, int lines)
    {
        if (!File.Exists(source))
            throw new FileNotFoundException($"GSM8K file {source} does not exist; give a folder that holds train.jsonl and test.jsonl", source);
        File.WriteAllLines(target, File.ReadLines(source).Where(l => l.Length > 0).Take(lines));
    }
}

/// <summary>How much data the demo writes. Hints in pretraining cover [HintMin, HintMax] (about
/// B_T/2 to B_0 of the demo's mid-training); ContextChars is mid-training's context.</summary>
public sealed record DemoDataSize(int PretrainDocuments, int Traces, int CorpusDocuments, int EvalDocuments, int TrainProblems, int TestProblems,
    int ContextChars, int HintMin, int HintMax);

public sealed record DemoFiles(string Pretrain, string Corpus, string CorpusEval, string MathTrain, string MathTest);
