using System.Text.Json.Nodes;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.PostTraining;
using Rmt.Training.Tokenizers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.PostTraining;

/// <summary>The stage chains from a checkpoint folder, writes checkpoints and a report, resumes,
/// and refuses a base checkpoint whose tokenizer cannot write the format.</summary>
public sealed class PostTrainStageTests(ITestOutputHelper output)
{
    private static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "rmt-post-train-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string SaveMicroCheckpoint(string dir, ITokenizer tokenizer)
    {
        using var model = new CausalLM(MathGrpoTrainerTests.Micro(tokenizer.VocabSize), seed: 1);
        return Checkpoint.Save(dir, model, tokenizer);
    }

    /// <summary>A briefly pretrained base checkpoint and its train / held-out problem files in <paramref name="work"/>.</summary>
    private static (string BaseDir, ITokenizer Tokenizer, string TrainPath, string EvalPath) SavePretrainedBase(string work, int steps)
    {
        var (model, tokenizer, train, heldOut) = MathGrpoTrainerTests.PretrainedBase(steps);
        var baseDir = Path.Combine(work, "base");
        using (model) Checkpoint.Save(baseDir, model, tokenizer);
        var trainPath = Path.Combine(work, "train.jsonl");
        var evalPath = Path.Combine(work, "test.jsonl");
        Gsm8kLoader.Save(trainPath, train);
        Gsm8kLoader.Save(evalPath, heldOut);
        return (baseDir, tokenizer, trainPath, evalPath);
    }

    [Fact]
    public void Stage_refuses_a_tokenizer_without_digits_naming_them()
    {
        var dir = SaveMicroCheckpoint(Path.Combine(TempDir("no-digits"), "base"), ByteLevelBpeTokenizer.CreateBytes());
        var path = Path.Combine(dir, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var vocab = root["model"]!["vocab"]!.AsObject();
        foreach (var digit in "0123456789") vocab.Remove(digit.ToString());
        File.WriteAllText(path, root.ToJsonString());

        var error = Assert.Throws<PostTrainException>(() => PostTrainStage.LoadBase(dir, CPU));
        output.WriteLine(error.Message);
        Assert.Contains(dir, error.Message, StringComparison.Ordinal);
        Assert.Contains("'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'#'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stage_refuses_a_tokenizer_without_think_tokens()
    {
        var dir = SaveMicroCheckpoint(Path.Combine(TempDir("no-think"), "base"), ByteLevelBpeTokenizer.CreateBytes());
        var path = Path.Combine(dir, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var added = root["added_tokens"]!.AsArray();
        foreach (var token in added.Where(t => t!["content"]!.GetValue<string>() == "<think>").ToList()) added.Remove(token);
        File.WriteAllText(path, root.ToJsonString());

        var error = Assert.Throws<PostTrainException>(() => new PostTrainStage(new PostTrainConfig()).Run(
            new PostTrainInputs(dir, Path.Combine(SharedData.Root, "gsm8k", "test.jsonl"), null, Path.Combine(dir, "..", "out"))));
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
    public void Stage_post_trains_a_checkpoint_writes_checkpoints_and_report_and_resumes()
    {
        var work = TempDir("stage");
        var (baseDir, tokenizer, trainPath, evalPath) = SavePretrainedBase(work, steps: 200);
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 20, BatchSize: 4, LearningRate: 1e-3, WarmupSteps: 0, WeightDecay: 0.0, Seed: 8, CheckpointEvery: 10, ProgressEvery: 5),
            GroupSize: 8, MaxNewTokens: 24, PassAtK: 2, EvalSamples: 4, EvalEvery: 10, Grpo: new GrpoConfig(KlWeight: 0.01));
        var outDir = Path.Combine(work, "post-train");
        var events = new List<string>();
        var stage = new PostTrainStage(config, new PostTrainCallbacks
        {
            Log = output.WriteLine,
            CheckpointSaved = (step, dir) => events.Add($"checkpoint {step}"),
            Evaluated = e => events.Add($"eval {e.Step}"),
        });

        var result = stage.Run(new PostTrainInputs(baseDir, trainPath, evalPath, outDir));

        Assert.Equal(["eval 0", "eval 10", "checkpoint 10", "checkpoint 20", "eval 20"], events);
        Assert.Equal(20, result.Steps.Count);
        Assert.True(result.After.Accuracy > result.Before.Accuracy + 0.3, $"accuracy {result.Before.Accuracy:P0} -> {result.After.Accuracy:P0}");
        Assert.Equal(Checkpoint.StepDir(outDir, 20), result.FinalCheckpoint);
        Assert.Equal(config, RmtJson.Parse<PostTrainConfig>(Checkpoint.ReadStageConfig(Checkpoint.StepDir(outDir, 10))!, "stage_config.json"));
        Assert.Equal(PostTrainStage.TrainerName, Checkpoint.ReadState(result.FinalCheckpoint)!.Trainer);
        var report = File.ReadAllText(result.ReportPath);
        Assert.Contains("| accuracy (greedy) |", report, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, "report", "training.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "report", "held-out.png")));
        using (var reloaded = Checkpoint.Load(result.FinalCheckpoint)) Assert.Equal(tokenizer.VocabSize, reloaded.Tokenizer.VocabSize);

        // A longer rerun over the same folder resumes from step 20 instead of starting again.
        var longer = config with { Schedule = config.Schedule with { Steps = 24 } };
        var resumed = new PostTrainStage(longer, new PostTrainCallbacks { Log = output.WriteLine }).Run(new PostTrainInputs(baseDir, trainPath, evalPath, outDir));
        Assert.Equal([21, 22, 23, 24], resumed.Steps.Select(s => s.Step));
        Assert.Equal(result.Before, resumed.Before, new EvaluationComparer());
        Assert.Equal(Checkpoint.StepDir(outDir, 24), resumed.FinalCheckpoint);

        var table = PostTrainReport.ComparisonTable([("base", result), ("resumed", resumed)]);
        output.WriteLine(table);
        Assert.Equal(4, table.Split('\n').Length);
        Directory.Delete(work, recursive: true);
    }

    [Fact]
    public void Format_warmup_is_scored_separately_from_grpo()
    {
        var work = TempDir("warmup");
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        var baseDir = SaveMicroCheckpoint(Path.Combine(work, "base"), tokenizer);
        var problems = new ArithmeticProblemGenerator(new ArithmeticDifficulty(1, 1, "+", ArithmeticStyle.Bare)).Generate(40, seed: 1);
        var data = Path.Combine(work, "problems.jsonl");
        Gsm8kLoader.Save(data, problems);
        var config = new PostTrainConfig(new TrainingSchedule(Steps: 1, BatchSize: 2, WarmupSteps: 0, Seed: 2),
            GroupSize: 2, MaxNewTokens: 8, EvalSize: 8, PassAtK: 1, EvalSamples: 1, FormatWarmupSteps: 3);

        var result = new PostTrainStage(config).Run(new PostTrainInputs(baseDir, data, null, Path.Combine(work, "out")));

        Assert.NotNull(result.AfterFormatWarmup);
        Assert.Equal(32, result.TrainProblems);
        Assert.Equal(8, result.HeldOutProblems);
        Assert.Contains("| after format warm-up |", File.ReadAllText(result.ReportPath), StringComparison.Ordinal);
        Directory.Delete(work, recursive: true);
    }

    [Fact]
    public void Kl_reference_is_the_policy_as_grpo_starts_after_the_format_warmup_also_after_a_resume()
    {
        var work = TempDir("kl-reference");
        var (baseDir, _, trainPath, evalPath) = SavePretrainedBase(work, steps: 60);
        var config = new PostTrainConfig(
            new TrainingSchedule(Steps: 4, BatchSize: 4, LearningRate: 1e-3, WarmupSteps: 0, WeightDecay: 0.0, Seed: 8, CheckpointEvery: 2),
            GroupSize: 8, MaxNewTokens: 24, EvalSize: 8, PassAtK: 1, EvalSamples: 1, FormatWarmupSteps: 5, Grpo: new GrpoConfig(KlWeight: 0.05));
        List<MathStepMetrics> Run(string outDir, int? stopAfter = null)
        {
            var steps = new List<MathStepMetrics>();
            using var stop = new CancellationTokenSource();
            var stage = new PostTrainStage(config, new PostTrainCallbacks { Step = m => { steps.Add(m); if (m.Step == stopAfter) stop.Cancel(); } });
            try { stage.Run(new PostTrainInputs(baseDir, trainPath, evalPath, outDir), stop.Token); }
            catch (OperationCanceledException) when (stopAfter is not null) { }
            return steps;
        }

        var whole = Run(Path.Combine(work, "whole"));
        var firstUpdate = whole.First(s => s.Updated);
        Assert.Equal(0.0, firstUpdate.Kl);                                            // the reference is the warmed-up policy
        Assert.Contains(whole, s => s.Updated && s.Step > firstUpdate.Step && s.Kl > 0); // and stays frozen while the policy moves

        var resumedDir = Path.Combine(work, "resumed");
        Assert.Equal(2, Run(resumedDir, stopAfter: 2).Count);
        var resumed = Run(resumedDir);                                                // steps 3-4 from the step-2 checkpoint
        Assert.Equal([3, 4], resumed.Select(s => s.Step));
        foreach (var (a, b) in whole.Skip(2).Zip(resumed))
        {
            Assert.Equal(a.Kl, b.Kl, 6);                                             // the same reference, rebuilt
            Assert.Equal(a.Loss, b.Loss, 6);
        }
        Directory.Delete(work, recursive: true);
    }

    /// <summary>Evaluations read back from JSON hold equal values in new lists.</summary>
    private sealed class EvaluationComparer : IEqualityComparer<MathEvaluation>
    {
        public bool Equals(MathEvaluation? x, MathEvaluation? y) =>
            x is not null && y is not null && x with { Examples = [] } == y with { Examples = [] } && x.Examples.SequenceEqual(y.Examples);

        public int GetHashCode(MathEvaluation obj) => obj.Accuracy.GetHashCode();
    }
}
