using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.Optimization;
using Rmt.Training.PostTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Testing;

/// <summary>Tiny models for post-training tests (the trainer's tests and the post-train stage's, which
/// runs in Rmt.Jobs.Tests through the job lifecycle).</summary>
internal static class MathBases
{
    internal static ModelConfig Micro(int vocab) =>
        new("qwen3", vocab, HiddenSize: 32, IntermediateSize: 64, NumLayers: 2, NumHeads: 2, NumKvHeads: 1, HeadDim: 16,
            MaxPositionEmbeddings: 64, QkNorm: true);

    /// <summary>The problem set "a - a = ?" (a = 0..99, answer always 0), split 80 for RL and 20
    /// held out. The base model is pretrained on worked solutions whose reasoning is right
    /// ("a - a = 0") but whose final answer is "1" three times in four: it learns the format, and its
    /// greedy answer is wrong everywhere. A verifiable reward for the right answer must move it to
    /// answer 0, also on the operands RL never saw. Learnable in seconds by design: the point is the
    /// machinery (rollouts, rewards, advantages, loss, update, evaluation), not arithmetic.</summary>
    internal static (CausalLM Model, ByteLevelBpeTokenizer Tokenizer, IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> HeldOut) PretrainedBase(int steps = 200)
    {
        var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
        var all = Enumerable.Range(0, 100).Select(a => new MathProblem($"{a} - {a} = ?", $"{a} - {a} = 0\n#### 0")).ToList();
        var random = new Random(3);
        var shuffled = all.OrderBy(_ => random.Next()).ToList();
        var (heldOut, train) = (shuffled.Take(20).ToList(), shuffled.Skip(20).ToList());
        var documents = new List<MathProblem>();
        for (var copy = 0; copy < 10; copy++)
            foreach (var p in all)
                documents.Add(p with { Answer = $"{p.Solution}\n#### {(random.NextDouble() < 0.75 ? "1" : "0")}" });
        var tokens = tokenizer.Encode(MathTokens.CorpusText(documents.OrderBy(_ => random.Next())));
        var model = new CausalLM(Micro(tokenizer.VocabSize), seed: 5);
        var schedule = new TrainingSchedule(Steps: steps, BatchSize: 16, LearningRate: 1e-2, WarmupSteps: 5, WeightDecay: 0.0, Seed: 6);
        using var ntp = new NtpTrainer(model, tokenizer, new TokenWindows(tokens, 32, seed: 7), schedule);
        for (var i = 0; i < steps; i++) ntp.TrainStep();
        return (model, tokenizer, train, heldOut);
    }

    /// <summary><see cref="PretrainedBase"/> saved as a checkpoint folder in <paramref name="work"/>/base,
    /// with its problems as train.jsonl and test.jsonl beside it.</summary>
    internal static (string BaseDir, ITokenizer Tokenizer, string TrainPath, string EvalPath) SavePretrainedBase(string work, int steps)
    {
        var (model, tokenizer, train, heldOut) = PretrainedBase(steps);
        var baseDir = Path.Combine(work, "base");
        using (model) Rmt.Training.Checkpoints.Checkpoint.Save(baseDir, model, tokenizer);
        var trainPath = Path.Combine(work, "train.jsonl");
        var evalPath = Path.Combine(work, "test.jsonl");
        Gsm8kLoader.Save(trainPath, train);
        Gsm8kLoader.Save(evalPath, heldOut);
        return (baseDir, tokenizer, trainPath, evalPath);
    }

    /// <summary>An untrained micro model with <paramref name="tokenizer"/>, saved in <paramref name="dir"/>.</summary>
    internal static string SaveMicroCheckpoint(string dir, ITokenizer tokenizer)
    {
        using var model = new CausalLM(Micro(tokenizer.VocabSize), seed: 1);
        return Rmt.Training.Checkpoints.Checkpoint.Save(dir, model, tokenizer);
    }
}
