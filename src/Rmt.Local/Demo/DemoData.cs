using System.Globalization;
using System.Text;
using System.Text.Json;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Local.Demo;

/// <summary>The demo's datasets, made here so that ./run.sh needs nothing downloaded: a small text
/// corpus (for pretraining the tiny model and for RMT mid-training) and grade-school arithmetic
/// problems in GSM8K's format ({"question", "answer": "... #### n"}) for math post-training. Seeded:
/// the same files every time. With a GSM8K folder (train.jsonl, test.jsonl) its problems are used
/// instead of the generated ones.</summary>
public static class DemoData
{
    public const string DatasetName = "demo";
    public static readonly string Corpus = BlobLayout.Dataset(DatasetName, "corpus.txt");
    public static readonly string MathTrain = BlobLayout.Dataset(DatasetName, "math-train.jsonl");
    public static readonly string MathTest = BlobLayout.Dataset(DatasetName, "math-test.jsonl");

    private static readonly string[] Names = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivy", "Jon"];
    private static readonly string[] Things = ["apples", "books", "coins", "shells", "stamps", "marbles", "pens", "cards"];
    private static readonly string[] Animals = ["cat", "dog", "fox", "owl", "hen", "cow", "bee", "ant"];
    private static readonly string[] Places = ["garden", "market", "river", "school", "forest", "kitchen", "harbor", "field"];
    private static readonly string[] Words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    /// <summary>Writes the three files into <paramref name="folder"/> and returns their local paths.</summary>
    public static DemoFiles Write(string folder, int seed = 1234, int corpusLines = 4000, int trainProblems = 400, int testProblems = 64, string? gsm8kFolder = null)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(seed);
        var corpus = Path.Combine(folder, "corpus.txt");
        File.WriteAllText(corpus, CorpusText(random, corpusLines));

        var train = Path.Combine(folder, "math-train.jsonl");
        var test = Path.Combine(folder, "math-test.jsonl");
        if (gsm8kFolder is not null)
        {
            CopyHead(Path.Combine(gsm8kFolder, "train.jsonl"), train, trainProblems);
            CopyHead(Path.Combine(gsm8kFolder, "test.jsonl"), test, testProblems);
        }
        else
        {
            File.WriteAllLines(train, Enumerable.Range(0, trainProblems).Select(_ => Problem(random)));
            File.WriteAllLines(test, Enumerable.Range(0, testProblems).Select(_ => Problem(random)));
        }
        return new DemoFiles(corpus, train, test);
    }

    /// <summary>Uploads the files to datasets/demo/ (overwriting: they are the same for the same seed).</summary>
    public static async Task UploadAsync(IArtifactStore store, DemoFiles files, CancellationToken ct = default)
    {
        await store.UploadFileAsync(Corpus, files.Corpus, ct);
        await store.UploadFileAsync(MathTrain, files.MathTrain, ct);
        await store.UploadFileAsync(MathTest, files.MathTest, ct);
    }

    /// <summary>Short sentences with regular structure (so that some next tokens are easy and some
    /// are hard, which is what RMT's entropy tiers need) and arithmetic in the problems' own words.</summary>
    public static string CorpusText(Random random, int lines)
    {
        var text = new StringBuilder();
        for (var i = 0; i < lines; i++)
        {
            var (a, b) = (random.Next(0, 10), random.Next(0, 10));
            var name = Pick(random, Names);
            var line = random.Next(6) switch
            {
                0 => $"The {Pick(random, Animals)} walks to the {Pick(random, Places)} and sees a {Pick(random, Animals)}.",
                1 => $"{name} has {a} {Pick(random, Things)}. {name} gets {b} more. Now {name} has {a + b}.",
                2 => $"{Words[a]} plus {Words[b]} is {(a + b).ToString(CultureInfo.InvariantCulture)}.",
                3 => $"{a} + {b} = {a + b}. {a + b} - {b} = {a}.",
                4 => $"Count: {string.Join(' ', Enumerable.Range(a, 5))}.",
                _ => $"In the {Pick(random, Places)}, {name} finds {a} {Pick(random, Things)} and gives {Math.Min(a, b)} away, keeping {a - Math.Min(a, b)}.",
            };
            text.AppendLine(line);
        }
        return text.ToString();
    }

    /// <summary>One problem in GSM8K's format: the answer shows its working and ends "#### n".</summary>
    public static string Problem(Random random)
    {
        var (a, b) = (random.Next(1, 20), random.Next(1, 20));
        var name = Pick(random, Names);
        var thing = Pick(random, Things);
        var (question, working, result) = random.Next(3) switch
        {
            0 => ($"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", $"{a} + {b} = {a + b}", a + b),
            1 => ($"{name} has {a + b} {thing} and gives {b} away. How many {thing} are left?", $"{a + b} - {b} = {a}", a),
            _ => ($"What is {a} + {b}?", $"{a} + {b} = {a + b}", a + b),
        };
        var line = new Dictionary<string, string>
        {
            ["question"] = question,
            ["answer"] = $"{working}\n#### {result.ToString(CultureInfo.InvariantCulture)}",
        };
        return JsonSerializer.Serialize(line, RmtJsonContext.Default.DictionaryStringString);
    }

    private static void CopyHead(string source, string target, int lines)
    {
        if (!File.Exists(source))
            throw new FileNotFoundException($"GSM8K file {source} does not exist; give a folder that holds train.jsonl and test.jsonl", source);
        File.WriteAllLines(target, File.ReadLines(source).Where(l => l.Length > 0).Take(lines));
    }

    private static string Pick(Random random, string[] items) => items[random.Next(items.Length)];
}

public sealed record DemoFiles(string Corpus, string MathTrain, string MathTest);
