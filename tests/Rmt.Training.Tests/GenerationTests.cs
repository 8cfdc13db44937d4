using Rmt.Training.Checkpoints;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>KV-cache generation is exact: equals transformers' greedy output and the no-cache loop;
/// padding does not change results; returned log-probs equal teacher-forced scores.</summary>
public sealed class GenerationTests
{
    private static (int[] Prompt, int[] Expected) Greedy(string name)
    {
        var reference = SafeTensors.Load(Path.Combine(TestPaths.Fixture(name), "reference.safetensors"));
        var prompt = reference["greedy_prompt"].data<long>().Select(x => (int)x).ToArray();
        var expected = reference["greedy_output"].data<long>().Select(x => (int)x).ToArray();
        foreach (var t in reference.Values) t.Dispose();
        return (prompt, expected);
    }

    [Theory]
    [InlineData("llama-tiny", true)]
    [InlineData("qwen2-tiny", true)]
    [InlineData("qwen3-tiny", true)]
    [InlineData("qwen3-tiny", false)]
    public void Greedy_generation_reproduces_transformers_generate(string name, bool useCache)
    {
        using var model = ModelIO.Load(TestPaths.Fixture(name));
        using var sampler = new TextSampler(model, seed: 1);
        var (prompt, expected) = Greedy(name);
        var result = sampler.Generate([prompt], new SamplingOptions(MaxNewTokens: expected.Length - prompt.Length, Greedy: true, UseKvCache: useCache));
        Assert.Equal(expected, prompt.Concat(result.Tokens[0]).ToArray());
        Assert.False(result.Finished[0]);
        Assert.All(result.LogProbs[0], lp => Assert.True(lp <= 0 && lp > -20));
    }

    [Fact]
    public void Left_padded_batch_equals_each_prompt_alone_and_cache_equals_no_cache()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen2-tiny"));
        using var sampler = new TextSampler(model, seed: 1);
        int[][] prompts = [[5, 6, 7, 8, 9, 10, 11], [40, 41], [100, 200, 300, 7]];
        var options = new SamplingOptions(MaxNewTokens: 12, Greedy: true);
        var batched = sampler.Generate(prompts, options);
        var noCache = sampler.Generate(prompts, options with { UseKvCache = false });
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = sampler.Generate([prompts[i]], options);
            Assert.Equal(alone.Tokens[0], batched.Tokens[i]);
            Assert.Equal(alone.Tokens[0], noCache.Tokens[i]);
            for (int j = 0; j < alone.LogProbs[0].Length; j++)
                Assert.Equal(alone.LogProbs[0][j], (double)batched.LogProbs[i][j], 1e-4);
        }
    }

    [Fact]
    public void Sampled_log_probs_equal_teacher_forced_scores_and_stop_tokens_end_rows()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("llama-tiny"));
        using var sampler = new TextSampler(model, seed: 3);
        int[][] prompts = [[1, 2, 3, 4], [9, 8]];
        var options = new SamplingOptions(MaxNewTokens: 10, Temperature: 0.7, TopP: 0.9);
        var result = sampler.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            var full = prompts[i].Concat(result.Tokens[i]).Select(x => (long)x).ToArray();
            using var ids = tensor(full, [1, full.Length], int64);
            using var guard = no_grad();
            using var scored = SequenceScorer.TokenLogProbs(model, ids, temperature: 0.7);   // (1, T-1)
            var tail = scored[0].data<float>().ToArray()[(prompts[i].Length - 1)..];
            for (int j = 0; j < tail.Length; j++) Assert.Equal(tail[j], (double)result.LogProbs[i][j], 1e-4);
        }

        // Stop at the first token this seed produces for row 0: row 0 ends after one token.
        var stop = result.Tokens[0][0];
        using var again = new TextSampler(model, seed: 3);
        var stopped = again.Generate(prompts, options with { StopTokens = [stop] });
        Assert.Equal(1, stopped.Lengths[0]);
        Assert.True(stopped.Finished[0]);
        Assert.Equal(stop, stopped.Tokens[0][0]);
    }

    [Fact]
    public void Rollout_batch_rescored_by_teacher_forcing_reproduces_the_sampled_log_probs()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen2-tiny"));
        using var sampler = new TextSampler(model, seed: 9);
        int[][] prompts = [[10, 11, 12, 13, 14], [20, 21]];
        var result = sampler.Generate(prompts, new SamplingOptions(MaxNewTokens: 6, StopTokens: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]));
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var rows = prompts.Select((p, i) => new RolloutRow(p, result.Tokens[i], result.LogProbs[i], result.Lengths[i])).ToList();
        var batch = RolloutBatch.Build(rows, padTokenId: 0, CPU);
        var scored = SequenceScorer.TokenLogProbs(model, batch.Ids, null);                          // (B, L-1)
        var difference = ((scored - batch.SampledLogProbs) * batch.CompletionMask).abs().max().item<float>();
        Assert.True(difference < 1e-4, $"teacher-forced log-probs differ from sampled ones by {difference}");
        Assert.Equal(result.Lengths.Sum(), (int)batch.CompletionMask.sum().item<float>());
    }

    [Fact]
    public void Same_seed_gives_same_samples_and_rng_state_restores()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen3-tiny"));
        var options = new SamplingOptions(MaxNewTokens: 8);
        using var a = new TextSampler(model, seed: 11);
        using var state = a.RngState;
        var first = a.Generate([[3, 4, 5]], options);
        a.RngState = state;
        var replay = a.Generate([[3, 4, 5]], options);
        Assert.Equal(first.Tokens[0], replay.Tokens[0]);
        using var b = new TextSampler(model, seed: 11);
        Assert.Equal(first.Tokens[0], b.Generate([[3, 4, 5]], options).Tokens[0]);
    }

    [Fact]
    public void Scorer_with_left_or_right_padding_equals_unpadded_and_has_gradients()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen3-tiny"));
        using var scope = NewDisposeScope();
        var plain = tensor(new long[] { 7, 8, 9, 10, 11 }, [1, 5], int64);
        var padded = tensor(new long[] { 0, 0, 7, 8, 9, 10, 11 }, [1, 7], int64);
        var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1 }, [1, 7], int64);
        var a = SequenceScorer.TokenLogProbs(model, plain);                    // (1, 4)
        var b = SequenceScorer.TokenLogProbs(model, padded, mask);             // (1, 6)
        Assert.True((a - b.narrow(1, 2, 4)).abs().max().item<float>() < 1e-5);
        var rightPadded = tensor(new long[] { 7, 8, 9, 10, 11, 0, 0 }, [1, 7], int64);
        var rightMask = tensor(new long[] { 1, 1, 1, 1, 1, 0, 0 }, [1, 7], int64);
        var c = SequenceScorer.TokenLogProbs(model, rightPadded, rightMask);  // (1, 6)
        Assert.True((a - c.narrow(1, 0, 4)).abs().max().item<float>() < 1e-5);
        a.sum().backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void Prompt_that_fills_the_context_is_refused()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("llama-tiny"));
        using var sampler = new TextSampler(model, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => sampler.Generate([new int[256]], new SamplingOptions(MaxNewTokens: 4)));
        Assert.Contains("longer than the model context", e.Message);
    }

    [Fact]
    public void Live_tensor_count_stays_flat_over_50_generation_steps()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen3-tiny"));
        using var sampler = new TextSampler(model, seed: 5);
        var options = new SamplingOptions(MaxNewTokens: 10, TopP: 0.9);
        sampler.Generate([[1, 2, 3], [4, 5]], options);                          // warm-up
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) sampler.Generate([[1, 2, 3], [4, 5]], options); // 50 decode steps
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(before, after);
        using var probe = zeros(1);                                              // the counter does see tensors
        Assert.Equal(after + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
