using System.Text.Json;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.Tests;

/// <summary>Byte-level BPE equals Hugging Face tokenizers on the fixture; the byte tokenizer round-trips.</summary>
public sealed class TokenizerTests
{
    private sealed record Sample(string Text, int[] Ids, string Decoded);

    private static List<Sample> Samples()
    {
        var path = Path.Combine(TestPaths.Fixture("tokenizer-bpe-384"), "reference_tokenization.json");
        return JsonSerializer.Deserialize<List<Sample>>(File.ReadAllText(path), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }

    public static TheoryData<string> Sources => new() { "tokenizer.json", "vocab.json+merges.txt", "saved" };

    private static ITokenizer Load(string source)
    {
        var dir = TestPaths.Fixture("tokenizer-bpe-384");
        return source switch
        {
            "tokenizer.json" => ByteLevelBpeTokenizer.FromTokenizerJson(Path.Combine(dir, "tokenizer.json")),
            "vocab.json+merges.txt" => ByteLevelBpeTokenizer.FromVocabAndMerges(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt")),
            _ => SavedWithoutOriginal(dir),
        };
    }

    private static ITokenizer SavedWithoutOriginal(string dir)
    {
        // vocab+merges has no original tokenizer.json, so Save generates one; load that back.
        var saved = TestPaths.TempDir("tok");
        ByteLevelBpeTokenizer.FromVocabAndMerges(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt")).Save(saved);
        File.Delete(Path.Combine(saved, "vocab.json"));
        return TokenizerLoader.Load(saved);
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void Every_reference_sample_encodes_and_decodes_exactly(string source)
    {
        var tokenizer = Load(source);
        Assert.Equal(384, tokenizer.VocabSize);
        Assert.Equal((0, 1, 2), (tokenizer.EndOfText, tokenizer.ThinkStart, tokenizer.ThinkEnd));
        foreach (var sample in Samples())
        {
            Assert.Equal(sample.Ids, tokenizer.Encode(sample.Text));
            Assert.Equal(sample.Decoded, tokenizer.Decode(sample.Ids));
        }
    }

    [Fact]
    public void Byte_tokenizer_round_trips_unicode_and_special_tokens()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        Assert.Equal(259, tokenizer.VocabSize);
        const string text = "<think>café 東京 🙂</think>42<|endoftext|>";
        var ids = tokenizer.Encode(text);
        Assert.Equal(tokenizer.ThinkStart, ids[0]);
        Assert.Equal(tokenizer.EndOfText, ids[^1]);
        Assert.Contains(tokenizer.ThinkEnd, ids);
        Assert.Equal(3 + (int)'c', ids[1]);
        Assert.Equal(text, tokenizer.Decode(ids));

        var dir = TestPaths.TempDir("bytes");
        tokenizer.Save(dir);
        var reloaded = TokenizerLoader.Load(dir);
        Assert.Equal(ids, reloaded.Encode(text));
        Assert.Equal(259, reloaded.VocabSize);
    }

    [Fact]
    public void Tokenizer_json_that_does_not_parse_is_named()
    {
        var dir = TestPaths.TempDir("badtok");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{ \"model\": [1, 2");
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(dir));
        Assert.Contains("tokenizer.json does not parse", e.Message);
    }

    [Fact]
    public void Think_tokens_missing_from_the_files_are_added_with_fresh_ids_and_saved()
    {
        var dir = TestPaths.TempDir("nothink");
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ((char)(b < 33 ? 256 + b : b)).ToString(), b => b);
        vocab["<|endoftext|>"] = 256;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
        var tokenizer = (ByteLevelBpeTokenizer)TokenizerLoader.Load(dir);
        Assert.Equal((256, 257, 258, 259), (tokenizer.EndOfText, tokenizer.ThinkStart, tokenizer.ThinkEnd, tokenizer.VocabSize));
        Assert.Equal(["<think>", "</think>"], tokenizer.AddedThinkTokens);
        Assert.Equal([257, (int)'x', 258], tokenizer.Encode("<think>x</think>"));

        // A tokenizer.json without them keeps the added ids when saved and reloaded.
        var saved = TestPaths.TempDir("nothink-saved");
        tokenizer.Save(saved);
        File.Delete(Path.Combine(saved, "vocab.json"));
        var reloaded = (ByteLevelBpeTokenizer)TokenizerLoader.Load(saved);
        Assert.Empty(reloaded.AddedThinkTokens);
        Assert.Equal((257, 258), (reloaded.ThinkStart, reloaded.ThinkEnd));
    }
}
