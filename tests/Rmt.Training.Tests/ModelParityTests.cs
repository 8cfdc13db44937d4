using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>Logits of the three fixture models equal those transformers computed.</summary>
public sealed class ModelParityTests
{
    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("qwen2-tiny")]
    [InlineData("qwen3-tiny")]
    public void Logits_match_transformers_within_1e4(string name)
    {
        using var scope = NewDisposeScope();
        var dir = TestPaths.Fixture(name);
        using var model = ModelIO.Load(dir);
        var reference = SafeTensors.Load(Path.Combine(dir, "reference.safetensors"));
        using var guard = no_grad();
        var logits = model.Forward(reference["input_ids"]);                     // (2, 24, 384)
        Assert.Equal(reference["logits"].shape, logits.shape);
        double maxDiff = (logits - reference["logits"]).abs().max().item<float>();
        Assert.True(maxDiff <= 1e-4, $"{name}: max abs logit difference {maxDiff:g3} > 1e-4");
    }

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("qwen2-tiny")]
    [InlineData("qwen3-tiny")]
    public void Step_by_step_argmax_without_cache_reproduces_greedy_output(string name)
    {
        using var scope = NewDisposeScope();
        var dir = TestPaths.Fixture(name);
        using var model = ModelIO.Load(dir);
        var reference = SafeTensors.Load(Path.Combine(dir, "reference.safetensors"));
        using var guard = no_grad();
        var ids = reference["greedy_prompt"];                                   // (1, 8)
        var expected = reference["greedy_output"];                              // (1, 24)
        while (ids.shape[1] < expected.shape[1])
        {
            var next = model.Forward(ids)[.., -1].argmax(-1, keepdim: true);    // (1, 1)
            ids = cat([ids, next], 1);
        }
        Assert.Equal(expected.data<long>().ToArray(), ids.data<long>().ToArray());
    }
}
