using System.Text.Json.Nodes;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.Training.Tests;

/// <summary>Llama 3.1+ "llama3" rope scaling: read from either config style, applied to the
/// frequencies as transformers does, and written back.</summary>
public sealed class RopeScalingTests
{
    private static JsonObject LlamaConfig() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixture("llama-tiny"), "config.json")))!.AsObject();

    [Fact]
    public void Llama3_scaling_keeps_short_wavelengths_and_slows_long_ones()
    {
        var json = LlamaConfig();
        json["rope_parameters"] = new JsonObject
        {
            ["rope_theta"] = 500000.0, ["rope_type"] = "llama3", ["factor"] = 8.0,
            ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 64,
        };
        var config = ModelConfig.FromHfJson(json.ToJsonString());
        Assert.Equal(new Llama3RopeScaling(8.0, 1.0, 4.0, 64), config.RopeScaling);
        using var scope = NewDisposeScope();
        var plain = Rotary.InverseFrequencies(config with { RopeScaling = null }, CPU).data<float>().ToArray();
        var scaled = Rotary.InverseFrequencies(config, CPU).data<float>().ToArray();
        for (int i = 0; i < plain.Length; i++)
        {
            double wavelen = 2 * Math.PI / plain[i];
            if (wavelen < 64 / 4.0) Assert.Equal(plain[i], scaled[i]);                       // high frequency: unchanged
            else if (wavelen > 64 / 1.0) Assert.Equal(plain[i] / 8.0, scaled[i], 1e-9);      // low frequency: / factor
            else Assert.InRange(scaled[i], plain[i] / 8.0 - 1e-9, plain[i] + 1e-9);         // band: in between
        }
        Assert.Contains(plain.Select((p, i) => p != scaled[i]), changed => changed);

        var again = ModelConfig.FromHfJson(config.ToHfJson());
        Assert.Equal(config, again);
    }

    [Fact]
    public void Old_style_rope_scaling_is_read_and_unknown_rope_types_are_named()
    {
        var json = LlamaConfig();
        json.Remove("rope_parameters");
        json["rope_theta"] = 500000.0;
        json["rope_scaling"] = new JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = 32.0, ["low_freq_factor"] = 1.0,
            ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192,
        };
        Assert.Equal(32.0, ModelConfig.FromHfJson(json.ToJsonString()).RopeScaling!.Factor);
        json["rope_scaling"] = new JsonObject { ["type"] = "yarn", ["factor"] = 4.0 };
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.FromHfJson(json.ToJsonString()));
        Assert.Contains("rope_type 'yarn' is not supported", e.Message);
    }
}
