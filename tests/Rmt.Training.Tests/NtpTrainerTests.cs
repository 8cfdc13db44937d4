using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>The NTP loop learns, resumes exactly, and does not leak tensors.</summary>
public sealed class NtpTrainerTests(ITestOutputHelper output)
{
    private static readonly Lazy<int[]> ShakespeareBytes = new(() =>
        ByteLevelBpeTokenizer.CreateBytes().Encode(File.ReadAllText(TestPaths.TinyShakespeare)));

    private static ModelConfig Micro(int vocab) =>
        new("qwen3", vocab, HiddenSize: 32, IntermediateSize: 64, NumLayers: 2, NumHeads: 2, NumKvHeads: 1, HeadDim: 16,
            MaxPositionEmbeddings: 64, QkNorm: true);

    [Fact]
    public void Tiny_model_on_tinyshakespeare_beats_the_unigram_baseline()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        var (train, validation) = TokenWindows.Split(ShakespeareBytes.Value);
        double unigram = UnigramBaseline.CrossEntropy(train, validation, tokenizer.VocabSize);
        // The tiny preset cut to 2 layers so the test stays short on a busy 2-core machine.
        var config = ModelPresets.Create("tiny", tokenizer.VocabSize, contextLength: 64) with { NumLayers = 2 };
        var schedule = new TrainingSchedule(Steps: 100, BatchSize: 8, LearningRate: 3e-3, WarmupSteps: 10, WeightDecay: 0.1, Seed: 1);
        using var model = new CausalLM(config, seed: 1);
        using var trainer = new NtpTrainer(model, tokenizer, new TokenWindows(train, 64, seed: 1), schedule);
        var validationWindows = new TokenWindows(validation, 64, seed: 99);
        double before = trainer.Evaluate(validationWindows, 4, 16);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < schedule.Steps; i++) trainer.TrainStep();
        double after = trainer.Evaluate(validationWindows, 4, 16);
        output.WriteLine($"unigram {unigram:F3}, validation loss {before:F3} -> {after:F3} in {watch.Elapsed.TotalSeconds:F1}s");
        Assert.True(after < unigram - 0.5, $"validation loss {after:F3} is not well below the unigram baseline {unigram:F3}");
    }

    private static TrainingSchedule ResumeSchedule => new(Steps: 6, BatchSize: 4, LearningRate: 1e-2, WarmupSteps: 2, GradAccumulation: 2, Seed: 3);

    [Fact]
    public void Resumed_run_equals_an_uninterrupted_run()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        var data = new TokenWindows(ShakespeareBytes.Value[..20_000], 32, seed: 5);

        using var straightModel = new CausalLM(Micro(tokenizer.VocabSize), seed: 2);
        using var straight = new NtpTrainer(straightModel, tokenizer, data, ResumeSchedule);
        var straightLosses = Enumerable.Range(0, 6).Select(_ => straight.TrainStep().Loss).ToList();

        var dir = TestPaths.TempDir("resume");
        using (var firstModel = new CausalLM(Micro(tokenizer.VocabSize), seed: 2))
        using (var first = new NtpTrainer(firstModel, tokenizer, data, ResumeSchedule))
        {
            for (int i = 0; i < 3; i++) Assert.Equal(straightLosses[i], first.TrainStep().Loss);
            first.SaveCheckpoint(Checkpoint.StepDir(dir, 3), "{\"stage\":\"pretrain\"}");
        }
        random.manual_seed(12345);  // disturb global RNG: resume must restore it
        var latest = Checkpoint.Latest(dir)!;
        Assert.EndsWith("step-3", latest);
        Assert.Equal("{\"stage\":\"pretrain\"}", Checkpoint.ReadStageConfig(latest));
        using var resumed = NtpTrainer.Resume(latest, data, ResumeSchedule, CPU);
        Assert.Equal(3, resumed.Step);
        Assert.Equal(6, resumed.DataPosition);
        var resumedLosses = Enumerable.Range(0, 3).Select(_ => resumed.TrainStep().Loss).ToList();
        Assert.Equal(straightLosses[3..], resumedLosses);
        foreach (var ((name, a), (_, b)) in straightModel.named_parameters().Zip(resumed.Model.named_parameters()))
            Assert.True(a.bytes.SequenceEqual(b.bytes), $"{name} differs between the resumed and the uninterrupted run");
        resumed.Model.Dispose();
    }

    [Fact]
    public void Live_tensor_count_stays_flat_over_50_training_steps()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        var data = new TokenWindows(ShakespeareBytes.Value[..20_000], 16, seed: 5);
        using var model = new CausalLM(Micro(tokenizer.VocabSize), seed: 2);
        using var trainer = new NtpTrainer(model, tokenizer, data,
            new TrainingSchedule(Steps: 60, BatchSize: 4, GradAccumulation: 2, WarmupSteps: 2, Seed: 3));
        for (int i = 0; i < 3; i++) trainer.TrainStep();   // gradients and optimizer state now exist
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) trainer.TrainStep();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Schedule_on_cuda_with_a_cpu_model_is_refused()
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        using var model = new CausalLM(Micro(tokenizer.VocabSize), seed: 2);
        var data = new TokenWindows(ShakespeareBytes.Value[..2_000], 16, seed: 5);
        var e = Assert.Throws<ArgumentException>(() => new NtpTrainer(model, tokenizer, data, new TrainingSchedule(Device: "cuda")));
        Assert.Contains("schedule.device is 'cuda'", e.Message);
    }

    [Fact]
    public void Schedule_warms_up_then_decays_to_the_floor()
    {
        var s = new CosineSchedule(1.0, WarmupSteps: 4, TotalSteps: 104, MinLrRatio: 0.1);
        Assert.Equal(0.25, s.At(0), 12);
        Assert.Equal(1.0, s.At(3), 12);
        Assert.Equal(1.0, s.At(4), 12);
        Assert.Equal(0.55, s.At(54), 12);
        Assert.Equal(0.1, s.At(104), 12);
        Assert.Equal(0.1, s.At(500), 12);
    }

    [Fact]
    public void Loss_mask_selects_positions()
    {
        using var scope = NewDisposeScope();
        var logits = randn(1, 3, 5, generator: new Generator(1));
        var targets = tensor(new long[] { 1, 2, 3 }, [1, 3]);
        var onlyMiddle = tensor(new float[] { 0, 1, 0 }, [1, 3]);
        var expected = -logits[0, 1].log_softmax(-1)[2];
        Assert.Equal(expected.item<float>(), NtpLoss.Compute(logits, targets, onlyMiddle).item<float>(), 5);
    }
}
