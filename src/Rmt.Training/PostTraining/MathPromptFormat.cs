namespace Rmt.Training.PostTraining;

/// <summary>The one prompt format of math post-training, for tiny and large models alike:
/// <code>
/// {question} &lt;think&gt;               &lt;- prompt (the model continues from here)
/// {reasoning}&lt;/think&gt; #### {answer}   &lt;- completion, then end-of-text
/// </code>
/// The shape of mid-training's next-token reasoning (context, &lt;think&gt;, trace, &lt;/think&gt;,
/// what comes next: ReasoningFormat), so a checkpoint uses the reasoning mid-training sharpened
/// without new punctuation to learn first. The prompt opens the reasoning so even an untrained model
/// starts in the right mode; the answer uses GSM8K's marker so one extractor reads references and
/// outputs. Reasoning is one line (steps joined by "; "), so a completion is one line of text.
/// Token level (end-of-text around it) is <see cref="MathTokens"/>; reading a completion back is <see cref="MathResponse"/>.</summary>
public static class MathPromptFormat
{
    public const string ThinkOpen = AnswerExtractor.ThinkOpen;
    public const string ThinkClose = AnswerExtractor.ThinkClose;
    public const string AnswerMarker = "####";

    public static string Prompt(string question) => $"{question.Trim()} {ThinkOpen}";

    public static string Prompt(MathProblem problem) => Prompt(problem.Question);

    /// <summary>The completion a perfect model would write for a problem: its worked solution as the
    /// reasoning, then the final answer. Used to teach tiny models the format before RL.</summary>
    public static string Completion(MathProblem problem)
    {
        var steps = problem.Solution.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return Completion(string.Join("; ", steps), problem.FinalAnswer);
    }

    public static string Completion(string reasoning, string answer) => $"{reasoning.Trim()}{ThinkClose} {AnswerMarker} {answer.Trim()}";

    /// <summary>Every string the tokenizer must be able to write for this format to be learnable:
    /// the tags, the marker, digits, sign, decimal point, fraction bar and the separators.</summary>
    public static IReadOnlyList<string> RequiredPieces { get; } =
        [ThinkOpen, ThinkClose, AnswerMarker, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "-", ".", "/", " ", "\n", "=", ";"];
}
