using System.Text.Json.Nodes;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>Saving and loading round-trips exactly; bad model folders fail with named errors.</summary>
public sealed class ModelIOTests
{
    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("qwen2-tiny")]
    [InlineData("qwen3-tiny")]
    public void Float32_load_then_save_keeps_every_tensor_bit_for_bit(string name)
    {
        var dir = TestPaths.Fixture(name);
        var outDir = TestPaths.TempDir("save");
        using (var model = ModelIO.Load(dir)) ModelIO.Save(model, outDir);
        var original = SafeTensors.Load(Path.Combine(dir, ModelIO.WeightsFile));
        var saved = SafeTensors.Load(Path.Combine(outDir, ModelIO.WeightsFile));
        Assert.Equal(original.Keys.Order(), saved.Keys.Order());
        foreach (var (key, tensor) in original)
            Assert.True(tensor.bytes.SequenceEqual(saved[key].bytes), $"tensor {key} changed");
        var reloaded = ModelConfig.Load(Path.Combine(outDir, ModelIO.ConfigFile));
        Assert.Equal(ModelConfig.Load(Path.Combine(dir, ModelIO.ConfigFile)), reloaded);
    }

    [Fact]
    public void Bfloat16_checkpoint_round_trips_file_bytes_exactly()
    {
        var bf16Dir = TestPaths.TempDir("bf16");
        var againDir = TestPaths.TempDir("bf16-again");
        using (var model = ModelIO.Load(TestPaths.Fixture("qwen3-tiny"))) ModelIO.Save(model, bf16Dir, ScalarType.BFloat16);
        using (var model = ModelIO.Load(bf16Dir))
        {
            Assert.Equal(ScalarType.BFloat16, model.StorageDtype);
            ModelIO.Save(model, againDir);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(bf16Dir, ModelIO.WeightsFile)), File.ReadAllBytes(Path.Combine(againDir, ModelIO.WeightsFile)));
        var header = SafeTensors.ReadHeader(Path.Combine(bf16Dir, ModelIO.WeightsFile)).Entries;
        Assert.All(header.Values, e => Assert.Equal("BF16", e.Dtype));
    }

    [Fact]
    public void Fresh_model_with_a_seed_is_reproducible_and_round_trips()
    {
        var config = ModelPresets.Create("tiny", vocabSize: 259);
        using var a = new CausalLM(config, seed: 7);
        using var b = new CausalLM(config, seed: 7);
        var dir = TestPaths.TempDir("fresh");
        ModelIO.Save(a, dir);
        using var c = ModelIO.Load(dir);
        foreach (var ((name, pa), (_, pb), (_, pc)) in a.named_parameters().Zip(b.named_parameters(), c.named_parameters()))
        {
            Assert.True(pa.bytes.SequenceEqual(pb.bytes), $"{name} differs between two models with the same seed");
            Assert.True(pa.bytes.SequenceEqual(pc.bytes), $"{name} differs after save and load");
        }
    }

    private static string CopyFixture(string name)
    {
        var dir = TestPaths.TempDir("bad");
        foreach (var f in Directory.GetFiles(TestPaths.Fixture(name)))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    private static void EditConfig(string dir, Action<JsonObject> edit)
    {
        var path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void Unsupported_model_type_is_named()
    {
        var dir = CopyFixture("llama-tiny");
        EditConfig(dir, j => j["model_type"] = "gpt2");
        var e = Assert.Throws<ModelFormatException>(() => ModelIO.Load(dir));
        Assert.Contains("model_type 'gpt2' is not supported", e.Message);
    }

    [Fact]
    public void Missing_config_field_is_named()
    {
        var dir = CopyFixture("llama-tiny");
        EditConfig(dir, j => j.Remove("num_hidden_layers"));
        var e = Assert.Throws<ModelFormatException>(() => ModelIO.Load(dir));
        Assert.Contains("'num_hidden_layers' is missing", e.Message);
    }

    [Fact]
    public void Old_style_top_level_rope_theta_is_read()
    {
        var dir = CopyFixture("qwen2-tiny");
        EditConfig(dir, j => { j.Remove("rope_parameters"); j["rope_theta"] = 1234.5; });
        Assert.Equal(1234.5, ModelConfig.Load(Path.Combine(dir, "config.json")).RopeTheta);
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        var dir = CopyFixture("qwen3-tiny");
        var tensors = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        tensors.Remove("model.layers.1.self_attn.k_norm.weight");
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), tensors);
        var e = Assert.Throws<ModelFormatException>(() => ModelIO.Load(dir));
        Assert.Contains("'model.layers.1.self_attn.k_norm.weight' is missing", e.Message);
    }

    [Fact]
    public void Wrong_tensor_shape_is_named()
    {
        var dir = CopyFixture("qwen2-tiny");
        EditConfig(dir, j => j["intermediate_size"] = 128);
        var e = Assert.Throws<ModelFormatException>(() => ModelIO.Load(dir));
        Assert.Contains("model.layers.0.mlp.down_proj.weight", e.Message);
        Assert.Contains("[64, 160]", e.Message);
    }

    [Fact]
    public void Prompt_longer_than_the_context_is_refused()
    {
        using var model = ModelIO.Load(TestPaths.Fixture("llama-tiny"));
        using var ids = zeros([1, 257], int64);
        using var guard = no_grad();
        var e = Assert.Throws<ArgumentException>(() => model.Forward(ids));
        Assert.Contains("longer than the model context (256)", e.Message);
    }
}
