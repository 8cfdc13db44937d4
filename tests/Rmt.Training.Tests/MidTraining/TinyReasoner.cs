using Rmt.Contracts;
using Rmt.Training.Model;
using Rmt.Training.Rl;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;
using static TorchSharp.torch;

namespace Rmt.Training.Tests.MidTraining;

/// <summary>A 2-layer byte-level model taught the reasoning format in a few seconds of NTP:
/// "the answer is [budget B]&lt;think&gt;(2-6 letters of abc)&lt;/think&gt;(one of w x y z)&lt;eot&gt;".
/// It answers each letter about equally often, so RL on a fixed target has room to raise reward.
/// Built once for the test collection and copied through a temp checkpoint folder.</summary>
public sealed class TinyReasoner : IDisposable
{
    public static readonly ByteLevelBpeTokenizer Tokenizer = ByteLevelBpeTokenizer.CreateBytes();
    public const string Context = "the answer is ";

    private readonly string dir = TestPaths.TempDir("tiny-reasoner");

    public TinyReasoner()
    {
        var config = new ModelConfig("qwen3", Tokenizer.VocabSize, 48, 96, 2, 2, 1, 24, 128, QkNorm: true);
        using var model = new CausalLM(config, seed: 3);
        var format = new ReasoningFormat(Tokenizer);
        var rng = new Random(5);
        var schedule = new TrainingSchedule(Steps: 150, LearningRate: 1e-2, WarmupSteps: 5, WeightDecay: 0.0);
        using var optimizer = new PolicyOptimizer(model, schedule);
        var loss = new NextTokenLoss();
        for (int step = 0; step < schedule.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var docs = Enumerable.Range(0, 16).Select(_ =>
            {
                int budget = rng.Next(2, 7);
                string reasoning = new([.. Enumerable.Range(0, rng.Next(2, 7)).Select(_ => "abc"[rng.Next(3)])]);
                return Tokenizer.Encode(format.Example(Context, budget, reasoning, "wxyz"[rng.Next(4)].ToString()));
            }).ToArray();
            int width = docs.Max(d => d.Length) - 1;
            var input = new long[16 * width];
            var target = new long[16 * width];
            var mask = new float[16 * width];
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < docs[i].Length - 1; j++)
                {
                    input[i * width + j] = docs[i][j];
                    target[i * width + j] = docs[i][j + 1];
                    mask[i * width + j] = 1;
                }
            optimizer.ZeroGrad();
            var logits = model.Forward(tensor(input, [16, width], int64));               // (16, W, V)
            loss.Compute(logits, tensor(target, [16, width], int64), tensor(mask, [16, width])).backward();
            optimizer.Step(step);
        }
        ModelIO.Save(model, dir);
    }

    /// <summary>A fresh copy of the trained weights.</summary>
    public CausalLM Load() => ModelIO.Load(dir);

    /// <summary>Corpus "the answer is z" repeated; only the answer positions are non-trivial (hard).</summary>
    public static (int[] Tokens, float[] Entropies) AnswerCorpus(char answer = 'z', int copies = 4)
    {
        var tokens = new List<int>();
        var entropies = new List<float>();
        for (int c = 0; c < copies; c++)
        {
            var ids = Tokenizer.Encode(Context + answer);
            tokens.AddRange(ids);
            entropies.AddRange(ids.Select((_, i) => i == ids.Length - 1 ? 2.0f : 0.0f));
            tokens.Add(Tokenizer.EndOfText);
            entropies.Add(0.0f);
        }
        entropies[0] = float.NaN;
        return ([.. tokens], [.. entropies]);
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>One <see cref="TinyReasoner"/> (a few seconds of pretraining) shared by every test class that needs it.</summary>
[CollectionDefinition(Name)]
public sealed class TinyReasonerCollection : ICollectionFixture<TinyReasoner>
{
    public const string Name = "tiny reasoner";
}
