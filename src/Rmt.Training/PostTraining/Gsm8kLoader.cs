using System.Text;
using System.Text.Json;

namespace Rmt.Training.PostTraining;

/// <summary>Reads and writes GSM8K-format jsonl: one object per line with string fields
/// <c>question</c> and <c>answer</c>, the answer ending with <c>#### final</c>. Extra fields are
/// ignored (other GSM8K derivatives add ids); blank lines are skipped. Every problem is checked:
/// a line that is not JSON, lacks a field, or whose final answer is not a number fails with the file
/// and line number, so a corrupt dataset stops a job before it spends GPU time.</summary>
public static class Gsm8kLoader
{
    public static IReadOnlyList<MathProblem> Load(string path)
    {
        if (!File.Exists(path))
            throw new MathDataException($"{path}: file not found; expected GSM8K-format jsonl (question, answer ending with '#### x')");
        return Parse(File.ReadLines(path, Encoding.UTF8), path);
    }

    /// <summary>Parses jsonl lines; <paramref name="source"/> names the file in errors.</summary>
    public static IReadOnlyList<MathProblem> Parse(IEnumerable<string> lines, string source)
    {
        var problems = new List<MathProblem>();
        var lineNumber = 0;
        foreach (var line in lines)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            problems.Add(ParseLine(line, $"{source}:{lineNumber}"));
        }
        if (problems.Count == 0)
            throw new MathDataException($"{source}: no problems found; expected one JSON object per line with 'question' and 'answer'");
        return problems;
    }

    public static void Save(string path, IEnumerable<MathProblem> problems)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
        foreach (var problem in problems)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("question", problem.Question);
                json.WriteString("answer", problem.Answer);
                json.WriteEndObject();
            }
            writer.Write(Encoding.UTF8.GetString(buffer.ToArray()));
            writer.Write('\n');
        }
    }

    private static MathProblem ParseLine(string line, string where)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new MathDataException($"{where}: not valid JSON ({e.Message.Split(". ")[0]}); each line must be one JSON object", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new MathDataException($"{where}: expected a JSON object with 'question' and 'answer', found {document.RootElement.ValueKind}");
            var question = RequiredString(document.RootElement, "question", where);
            var answer = RequiredString(document.RootElement, "answer", where);
            if (!answer.Contains("####", StringComparison.Ordinal))
                throw new MathDataException($"{where}: 'answer' has no '#### ' marker; GSM8K answers end with '#### <final answer>'");
            var problem = new MathProblem(question, answer);
            if (problem.FinalAnswer.Length == 0)
                throw new MathDataException($"{where}: nothing after '####' in 'answer'; put the final answer there");
            if (!MathNumber.TryParse(problem.FinalAnswer, out _))
                throw new MathDataException($"{where}: final answer '{problem.FinalAnswer}' is not a number the checker understands");
            return problem;
        }
    }

    private static string RequiredString(JsonElement element, string name, string where)
    {
        if (!element.TryGetProperty(name, out var value))
            throw new MathDataException($"{where}: missing field '{name}'; each line needs 'question' and 'answer'");
        if (value.ValueKind != JsonValueKind.String)
            throw new MathDataException($"{where}: field '{name}' is {value.ValueKind}; it must be a string");
        var text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
            throw new MathDataException($"{where}: field '{name}' is empty");
        return text;
    }
}
