using Rmt.Training.Generation;
using Rmt.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>bf16 compute with float32 master weights (what CUDA training uses), exercised on the CPU.</summary>
public sealed class MixedPrecisionTests
{
    [Fact]
    public void Bf16_compute_is_close_to_float32_and_trains_float32_weights()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("qwen3-tiny"));
        using var scope = NewDisposeScope();
        var ids = randint(3, 384, [2, 16], generator: new Generator(4));
        using (no_grad())
        {
            var full = model.Forward(ids);                                           // (2, 16, V)
            model.ComputeDtype = ScalarType.BFloat16;
            var mixed = model.Forward(ids);                                          // (2, 16, V)
            Assert.Equal(ScalarType.Float32, mixed.dtype);
            double diff = (full - mixed).abs().max().item<float>();
            Assert.InRange(diff, 1e-6, 0.1);                                         // bf16 rounding, not garbage
        }
        var loss = model.Forward(ids).logsumexp(-1).mean();
        loss.backward();
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
    }

    [Fact]
    public void Generation_with_cached_bf16_weights_equals_uncached_step_by_step_argmax()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("llama-tiny"));
        model.ComputeDtype = ScalarType.BFloat16;
        using var sampler = new TextSampler(model, seed: 1);
        int[] prompt = [5, 17, 99, 3];
        var generated = sampler.Generate([prompt], new SamplingOptions(MaxNewTokens: 10, Greedy: true)).Tokens[0];

        using var scope = NewDisposeScope();
        using var guard = no_grad();
        var ids = tensor(prompt.Select(x => (long)x).ToArray(), [1, prompt.Length]);
        for (int i = 0; i < 10; i++) ids = cat([ids, model.Forward(ids)[.., -1].argmax(-1, keepdim: true)], 1);
        Assert.Equal(ids.data<long>().Skip(prompt.Length).Select(x => (int)x).ToArray(), generated);

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        sampler.Generate([prompt], new SamplingOptions(MaxNewTokens: 10, Greedy: true));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // the cast cache is freed
    }
}
