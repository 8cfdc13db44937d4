namespace Rmt.Training.Tokenizers;

/// <summary>Finds and loads the tokenizer of a model or checkpoint folder.</summary>
public static class TokenizerLoader
{
    /// <summary>True when <paramref name="dir"/> holds tokenizer.json or vocab.json + merges.txt.</summary>
    public static bool Exists(string dir) =>
        File.Exists(Path.Combine(dir, "tokenizer.json"))
        || (File.Exists(Path.Combine(dir, "vocab.json")) && File.Exists(Path.Combine(dir, "merges.txt")));

    /// <summary>tokenizer.json when present, else vocab.json + merges.txt.</summary>
    public static ITokenizer Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new TokenizerFormatException($"tokenizer folder '{dir}' does not exist");
        var json = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json)) return ByteLevelBpeTokenizer.FromTokenizerJson(json);
        var vocab = Path.Combine(dir, "vocab.json");
        var merges = Path.Combine(dir, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges)) return ByteLevelBpeTokenizer.FromVocabAndMerges(vocab, merges);
        throw new TokenizerFormatException($"tokenizer folder '{dir}' has neither tokenizer.json nor vocab.json + merges.txt");
    }
}
