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

    [Fact]
    public void Format_warmup_with_a_target_stops_at_the_first_check_that_reaches_it_on_withheld_training_problems()
    {
        // MathBases' base answers "#### 1" where the worked solutions say "#### 0": the warm-up fixes that in tens of steps.
        var (model, tokenizer, train, heldOut) = MathBases.PretrainedBase(steps: 60);
        using var _ = model;
        var config = new PostTrainConfig(new TrainingSchedule(Steps: 1, BatchSize: 4, WarmupSteps: 0, Seed: 8, ProgressEvery: 1000),
            MaxNewTokens: 24, FormatWarmupSteps: 300, FormatWarmupLearningRate: 1e-3, FormatWarmupTargetAccuracy: 0.9, FormatWarmupCheckEvery: 10);
        var checker = new MathEvaluator(model, tokenizer, config.MaxNewTokens, config.Temperature, passAtK: 1, samples: 1);
        var withheld = train.TakeLast(PostTrainSetup.WarmupCheckProblems(train.Count)).ToList();
        Assert.Equal(16, withheld.Count);                                     // a fifth of the 80 training problems
        Assert.True(checker.GreedyAccuracy(withheld) < 0.9, "the base must start below the target for this test to mean anything");
        var lines = new List<string>();

        var steps = PostTrainSetup.FormatWarmup(config, model, tokenizer, train, lines.Add);

        foreach (var line in lines) output.WriteLine(line);
        Assert.InRange(steps, 10, 290);                                        // stopped early,
        Assert.Equal(0, steps % config.FormatWarmupCheckEvery);               // at a check,
        Assert.Equal(steps / config.FormatWarmupCheckEvery, lines.Count);     // the first one that passed
        Assert.Contains("on 16 withheld training problems (target 90.0 %)", lines[^1], StringComparison.Ordinal);
        Assert.True(checker.GreedyAccuracy(withheld) >= 0.9);
        Assert.True(checker.GreedyAccuracy(heldOut) >= 0.5, "the warm-up taught the answer beyond the problems it was checked on");

        Assert.Equal($"{steps} NTP steps (stopping at the first check, every 10 steps, with 90 % greedy accuracy on 16 training problems withheld from the warm-up, or after 300)",
            PostTrainReport.WarmupDescription(config, train.Count, steps));
        Assert.StartsWith("up to 300 NTP steps (", PostTrainReport.WarmupDescription(config, train.Count, stepsTaken: null), StringComparison.Ordinal);

        var fixedLength = config with { FormatWarmupTargetAccuracy = 0, FormatWarmupSteps = 7 };   // no target: every step
        Assert.Equal("7 NTP steps", PostTrainReport.WarmupDescription(fixedLength, train.Count, stepsTaken: 7));
        Assert.Equal(7, PostTrainSetup.FormatWarmup(fixedLength, model, tokenizer, train));
    }
}
