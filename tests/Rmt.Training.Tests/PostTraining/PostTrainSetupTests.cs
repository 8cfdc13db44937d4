using System.Text.Json.Nodes;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.PostTraining;
using Rmt.Training.Tokenizers;
using Xunit.Abstractions;
using Rmt.Testing;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.PostTraining;

/// <summary>The post-training set-up refuses a base checkpoint whose tokenizer cannot write the
/// format. The stage itself (chaining, checkpoints, report, resume, the KL reference) runs through the
/// job lifecycle: tests/Rmt.Jobs.Tests/PostTrainStageTests.cs.</summary>
public sealed class PostTrainSetupTests(ITestOutputHelper output)
{
    private static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "rmt-post-train-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void Stage_refuses_a_tokenizer_without_digits_naming_them()
    {
        var dir = MathBases.SaveMicroCheckpoint(Path.Combine(TempDir("no-digits"), "base"), ByteLevelBpeTokenizer.CreateBytes());
        var path = Path.Combine(dir, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var vocab = root["model"]!["vocab"]!.AsObject();
        foreach (var digit in "0123456789") vocab.Remove(digit.ToString());
        File.WriteAllText(path, root.ToJsonString());

        var error = Assert.Throws<PostTrainException>(() => PostTrainSetup.LoadBase(dir, CPU));
        output.WriteLine(error.Message);
        Assert.Contains(dir, error.Message, StringComparison.Ordinal);
        Assert.Contains("'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'#'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stage_refuses_a_tokenizer_without_think_tokens()
    {
        var dir = MathBases.SaveMicroCheckpoint(Path.Combine(TempDir("no-think"), "base"), ByteLevelBpeTokenizer.CreateBytes());
        var path = Path.Combine(dir, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var added = root["added_tokens"]!.AsArray();
        foreach (var token in added.Where(t => t!["content"]!.GetValue<string>() == "<think>").ToList()) added.Remove(token);
        File.WriteAllText(path, root.ToJsonString());

        var error = Assert.Throws<PostTrainException>(() => PostTrainSetup.LoadBase(dir, CPU));
        output.WriteLine(error.Message);
        Assert.Contains("cannot be post-trained", error.Message, StringComparison.Ordinal);
        Assert.Contains("no '<think>' token", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokenizer_check_accepts_the_byte_tokenizer_and_flags_ids_past_the_model_vocabulary()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        Assert.Empty(MathTokens.MissingPieces(tokenizer, 259));
        // Byte b has id 3 + b: a model with 3 + '0' rows cannot embed digits, '=' or ';', but can '#', '-', '.', '/'.
        var missing = MathTokens.MissingPieces(tokenizer, modelVocabSize: 3 + '0');
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "=", ";"], missing);
    }

}
