using System.Text.Json.Nodes;
using Rmt.Training.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Model;

/// <summary>Loads and saves models in the Hugging Face folder format: config.json +
/// model.safetensors (or a sharded model.safetensors.index.json).</summary>
public static class ModelIO
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string ShardIndexFile = "model.safetensors.index.json";

    /// <summary>Loads config.json and the weights from <paramref name="dir"/>. Parameters are held in
    /// <paramref name="dtype"/> (default float32, right for training; bfloat16 halves memory for
    /// inference); <see cref="CausalLM.StorageDtype"/> remembers the file's dtype for saving.</summary>
    public static CausalLM Load(string dir, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (!Directory.Exists(dir)) throw new ModelFormatException($"model folder '{dir}' does not exist");
        var config = ModelConfig.Load(Path.Combine(dir, ConfigFile));
        var model = new CausalLM(config, initialize: false, seed: null);
        try
        {
            return LoadWeights(model, dir, device, dtype);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static CausalLM LoadWeights(CausalLM model, string dir, Device? device, ScalarType dtype)
    {
        var config = model.Config;
        var files = WeightFiles(dir);
        var expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        ScalarType? fileDtype = null;
        using (no_grad())
        {
            foreach (var file in files)
            {
                var tensors = SafeTensors.Load(file);
                try
                {
                    foreach (var (name, tensor) in tensors)
                    {
                        if (!expected.TryGetValue(name, out var parameter))
                        {
                            if (name == "lm_head.weight" && config.TieWordEmbeddings) continue;   // some writers keep the tied copy
                            if (name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue; // recomputed from rope_theta
                            throw new ModelFormatException(
                                $"{file}: tensor '{name}' is not a parameter of a {config.ModelType} model with this config.json; the file and config do not match");
                        }
                        if (!tensor.shape.SequenceEqual(parameter.shape))
                            throw new ModelFormatException(
                                $"{file}: tensor '{name}' has shape [{string.Join(", ", tensor.shape)}] but config.json implies [{string.Join(", ", parameter.shape)}]");
                        if (!tensor.is_floating_point())
                            throw new ModelFormatException($"{file}: tensor '{name}' has dtype {tensor.dtype}; weights must be floating point");
                        fileDtype ??= tensor.dtype;
                        parameter.copy_(tensor);
                        seen.Add(name);
                    }
                }
                finally
                {
                    foreach (var t in tensors.Values) t.Dispose();
                }
            }
        }
        var missing = expected.Keys.Where(k => !seen.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new ModelFormatException(
                $"{string.Join(", ", files)}: tensor '{missing[0]}' is missing" + (missing.Count > 1 ? $" (and {missing.Count - 1} more)" : "") +
                $"; the weights do not fit config.json ({config})");
        model.StorageDtype = fileDtype ?? ScalarType.Float32;
        if (dtype != ScalarType.Float32) model.to(dtype);
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        model.eval();
        return model;
    }

    private static List<string> WeightFiles(string dir)
    {
        string single = Path.Combine(dir, WeightsFile);
        if (File.Exists(single)) return [single];
        string index = Path.Combine(dir, ShardIndexFile);
        if (File.Exists(index))
        {
            var map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"]?.AsObject()
                      ?? throw new ModelFormatException($"{index}: 'weight_map' is missing");
            return [.. map.Select(kv => Path.Combine(dir, kv.Value!.GetValue<string>())).Distinct()];
        }
        throw new ModelFormatException($"model folder '{dir}' has no {WeightsFile} (nor {ShardIndexFile})");
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/> (created if
    /// needed). Weights are stored in <paramref name="dtype"/>, default the model's
    /// <see cref="CausalLM.StorageDtype"/>; a tied head is not written (as transformers does).</summary>
    public static void Save(CausalLM model, string dir, ScalarType? dtype = null)
    {
        Directory.CreateDirectory(dir);
        var storage = dtype ?? model.StorageDtype;
        File.WriteAllText(Path.Combine(dir, ConfigFile), model.Config.ToHfJson().Replace("\"float32\"", $"\"{DtypeJsonName(storage)}\"", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters()
            .Select(p => KeyValuePair.Create(p.name, p.parameter.detach().to(storage).cpu()))
            .ToList();
        SafeTensors.Save(Path.Combine(dir, WeightsFile), tensors);
    }

    private static string DtypeJsonName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
