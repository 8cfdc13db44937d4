using System.Text.Json.Nodes;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.Tests;

/// <summary>tokenizer.json files in the Qwen / Llama 3 style: a Split regex before ByteLevel, NFC.</summary>
public sealed class SplitPreTokenizerTests
{
    private const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [Fact]
    public void Split_regex_and_nfc_normalizer_are_applied()
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixture("tokenizer-bpe-384"), "tokenizer.json")))!;
        root["normalizer"] = new JsonObject { ["type"] = "NFC" };
        root["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = QwenPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
        };
        var dir = TestPaths.TempDir("qwenstyle");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), root.ToJsonString());
        var tokenizer = TokenizerLoader.Load(dir);

        // NFC needs ICU; with InvariantGlobalization (this repository) .NET leaves text as is, and
        // the tokenizer says so (ByteLevelBpeTokenizer.NormalizationAvailable).
        Assert.Equal(ByteLevelBpeTokenizer.NormalizationAvailable, tokenizer.Encode("caf\u00e9 x").SequenceEqual(tokenizer.Encode("cafe\u0301 x")));

        const string text = "ROMEO:\nWherefore art thou? 12345";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Single(tokenizer.Encode(" the"));                       // "Ġthe" is one token either way

        // The Split pattern is what splits: one character per pre-token leaves nothing to merge.
        root["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = ".";
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), root.ToJsonString());
        var perCharacter = TokenizerLoader.Load(dir);
        Assert.Equal(4, perCharacter.Encode(" the").Length);
        Assert.Equal(text, perCharacter.Decode(perCharacter.Encode(text)));
    }
}
