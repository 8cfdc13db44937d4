using Rmt.Training.Model;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.PostTraining;

/// <summary>Token-level side of <see cref="MathPromptFormat"/>: prompts start with the end-of-text
/// token (the document separator the model saw in pretraining), completions end with it, and the
/// tokenizer must be able to write every piece of the format.</summary>
public static class MathTokens
{
    /// <summary>[end-of-text] + tokens of <see cref="MathPromptFormat.Prompt(string)"/>.</summary>
    public static int[] EncodePrompt(ITokenizer tokenizer, MathProblem problem) =>
        [tokenizer.EndOfText, .. tokenizer.Encode(MathPromptFormat.Prompt(problem))];

    /// <summary>A generated completion as text: its tokens up to, not including, end-of-text.</summary>
    public static string DecodeCompletion(ITokenizer tokenizer, IReadOnlyList<int> tokens, int length)
    {
        var end = length;
        for (var i = 0; i < length; i++)
        {
            if (tokens[i] == tokenizer.EndOfText) { end = i; break; }
        }
        return tokenizer.Decode(tokens.Take(end));
    }

    /// <summary>Training text for pretraining or mid-training corpora that should teach a tiny model
    /// the format: each problem as prompt + worked completion, documents separated by end-of-text.</summary>
    public static string CorpusText(IEnumerable<MathProblem> problems, string endOfText = ByteLevelBpeTokenizer.EndOfTextToken) =>
        string.Concat(problems.Select(p => endOfText + MathPromptFormat.Prompt(p) + MathPromptFormat.Completion(p))) + endOfText;

    /// <summary>The pieces of <see cref="MathPromptFormat.RequiredPieces"/> the tokenizer (with a model
    /// of <paramref name="modelVocabSize"/> rows) cannot write: a piece is missing when encoding it
    /// fails, when it does not decode back to itself, when a tag is not one special token, or when
    /// an id is past the model's embedding table. Empty = usable.</summary>
    public static IReadOnlyList<string> MissingPieces(ITokenizer tokenizer, int modelVocabSize)
    {
        var missing = new List<string>();
        foreach (var piece in MathPromptFormat.RequiredPieces)
        {
            int[] ids;
            try
            {
                ids = tokenizer.Encode(piece);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                missing.Add(piece);
                continue;
            }
            var ok = ids.Length > 0 && ids.All(id => id >= 0 && id < modelVocabSize) && RoundTrips(tokenizer, ids, piece);
            if (piece == MathPromptFormat.ThinkOpen) ok &= ids.Length == 1 && ids[0] == tokenizer.ThinkStart;
            if (piece == MathPromptFormat.ThinkClose) ok &= ids.Length == 1 && ids[0] == tokenizer.ThinkEnd;
            if (!ok) missing.Add(piece);
        }
        if (tokenizer.EndOfText < 0 || tokenizer.EndOfText >= modelVocabSize) missing.Add("end-of-text");
        return missing;
    }

    /// <summary>Throws when <see cref="MissingPieces"/> is not empty, naming the missing pieces.</summary>
    public static void Require(ITokenizer tokenizer, CausalLM model, string checkpoint)
    {
        var missing = MissingPieces(tokenizer, model.Config.VocabSize);
        if (missing.Count > 0)
            throw new PostTrainException(
                $"base checkpoint '{checkpoint}': its tokenizer cannot write {string.Join(", ", missing.Select(Show))}, which math post-training needs " +
                $"(prompt format: question, <think>, reasoning, </think>, '#### answer'); start from a checkpoint whose tokenizer has them (the byte tokenizer has all)");
    }

    private static bool RoundTrips(ITokenizer tokenizer, int[] ids, string piece)
    {
        try
        {
            return tokenizer.Decode(ids) == piece;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private static string Show(string piece) => piece switch
    {
        " " => "' ' (space)",
        "\n" => "'\\n' (newline)",
        _ => $"'{piece}'",
    };
}
