using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rmt.Training.Model;

/// <summary>Shape of a decoder-only transformer, read from and written to a Hugging Face
/// <c>config.json</c>. One record covers the three supported families:
/// <list type="bullet">
/// <item><c>llama</c>: no biases (unless <c>attention_bias</c>/<c>mlp_bias</c>), untied or tied head.</item>
/// <item><c>qwen2</c>: biases on q/k/v projections only.</item>
/// <item><c>qwen3</c>: per-head RMSNorm on queries and keys (<c>q_norm</c>, <c>k_norm</c>) before RoPE.</item>
/// </list></summary>
public sealed record ModelConfig(
    string ModelType,
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int NumLayers,
    int NumHeads,
    int NumKvHeads,
    int HeadDim,
    int MaxPositionEmbeddings,
    double RopeTheta = 10_000.0,
    double RmsNormEps = 1e-6,
    bool TieWordEmbeddings = true,
    bool QkvBias = false,          // qwen2: always; llama: attention_bias
    bool OutputBias = false,       // llama attention_bias also biases o_proj
    bool MlpBias = false,          // llama mlp_bias
    bool QkNorm = false,           // qwen3
    int BosTokenId = 0,
    int EosTokenId = 0,
    Llama3RopeScaling? RopeScaling = null)  // Llama 3.1+ long-context rope; null = default rope
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "qwen2", "qwen3"];

    /// <summary>Number of query heads that share one key/value head (grouped-query attention).</summary>
    public int KvGroups => NumHeads / NumKvHeads;

    public void Validate()
    {
        if (!SupportedModelTypes.Contains(ModelType))
            throw new ModelFormatException(
                $"config.json: model_type '{ModelType}' is not supported; supported: {string.Join(", ", SupportedModelTypes)}");
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumLayers, "num_hidden_layers");
        Positive(NumHeads, "num_attention_heads");
        Positive(NumKvHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumHeads % NumKvHeads != 0)
            throw new ModelFormatException(
                $"config.json: num_attention_heads ({NumHeads}) must be a multiple of num_key_value_heads ({NumKvHeads})");
        if (HeadDim % 2 != 0)
            throw new ModelFormatException($"config.json: head_dim ({HeadDim}) must be even for rotary embeddings");
        if (RopeTheta <= 0) throw new ModelFormatException($"config.json: rope_theta ({RopeTheta}) must be positive");
    }

    private static void Positive(int value, string field)
    {
        if (value <= 0) throw new ModelFormatException($"config.json: {field} is {value}; it must be positive");
    }

    /// <summary>Reads a Hugging Face config.json. Rope theta comes from <c>rope_theta</c> (older
    /// transformers) or <c>rope_parameters.rope_theta</c> (transformers 5).</summary>
    public static ModelConfig FromHfJson(string json, string source = "config.json")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                   ?? throw new ModelFormatException($"{source}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{source} does not parse as JSON: {e.Message}", e);
        }

        string modelType = root["model_type"]?.GetValue<string>()
                           ?? throw new ModelFormatException($"{source}: field 'model_type' is missing; set it to one of {string.Join(", ", SupportedModelTypes)}");
        if (!SupportedModelTypes.Contains(modelType))
            throw new ModelFormatException(
                $"{source}: model_type '{modelType}' is not supported; supported: {string.Join(", ", SupportedModelTypes)}");

        int hidden = Required(root, "hidden_size", source);
        int heads = Required(root, "num_attention_heads", source);
        double theta = root["rope_theta"] is JsonNode t ? t.GetValue<double>()
            : root["rope_parameters"]?["rope_theta"] is JsonNode t2 ? t2.GetValue<double>()
            : throw new ModelFormatException($"{source}: neither 'rope_theta' nor 'rope_parameters.rope_theta' is set");
        // transformers 5 keeps scaling in rope_parameters; older versions in rope_scaling ("type" before 4.45).
        var scalingNode = root["rope_parameters"] is JsonObject rp && (rp["rope_type"]?.GetValue<string>() ?? "default") != "default" ? rp
            : root["rope_scaling"] as JsonObject;
        string ropeType = scalingNode?["rope_type"]?.GetValue<string>() ?? scalingNode?["type"]?.GetValue<string>() ?? "default";
        Llama3RopeScaling? scaling = ropeType switch
        {
            "default" => null,
            "llama3" => new Llama3RopeScaling(
                RequiredDouble(scalingNode!, "factor", source),
                RequiredDouble(scalingNode!, "low_freq_factor", source),
                RequiredDouble(scalingNode!, "high_freq_factor", source),
                (int)RequiredDouble(scalingNode!, "original_max_position_embeddings", source)),
            _ => throw new ModelFormatException($"{source}: rope_type '{ropeType}' is not supported; implemented: default, llama3"),
        };

        bool attentionBias = root["attention_bias"]?.GetValue<bool>() ?? false;
        var config = new ModelConfig(
            ModelType: modelType,
            VocabSize: Required(root, "vocab_size", source),
            HiddenSize: hidden,
            IntermediateSize: Required(root, "intermediate_size", source),
            NumLayers: Required(root, "num_hidden_layers", source),
            NumHeads: heads,
            NumKvHeads: root["num_key_value_heads"]?.GetValue<int>() ?? heads,
            HeadDim: root["head_dim"]?.GetValue<int?>() ?? hidden / heads,
            MaxPositionEmbeddings: Required(root, "max_position_embeddings", source),
            RopeTheta: theta,
            RmsNormEps: root["rms_norm_eps"]?.GetValue<double>() ?? throw new ModelFormatException($"{source}: field 'rms_norm_eps' is missing"),
            TieWordEmbeddings: root["tie_word_embeddings"]?.GetValue<bool>() ?? (modelType != "llama"),
            QkvBias: modelType == "qwen2" || attentionBias,
            OutputBias: modelType == "llama" && attentionBias,
            MlpBias: root["mlp_bias"]?.GetValue<bool>() ?? false,
            QkNorm: modelType == "qwen3",
            BosTokenId: TokenId(root["bos_token_id"]),
            EosTokenId: TokenId(root["eos_token_id"]),
            RopeScaling: scaling);
        config.Validate();
        return config;
    }

    private static int Required(JsonObject root, string field, string source) =>
        root[field]?.GetValue<int>() ?? throw new ModelFormatException($"{source}: field '{field}' is missing; the model cannot be built without it");

    private static double RequiredDouble(JsonObject node, string field, string source) =>
        node[field]?.GetValue<double>() ?? throw new ModelFormatException($"{source}: rope scaling field '{field}' is missing");

    private static int TokenId(JsonNode? node) => node switch
    {
        null => 0,
        JsonArray array when array.Count > 0 => array[0]!.GetValue<int>(),
        JsonArray => 0,
        _ => node.GetValue<int>(),
    };

    public static ModelConfig Load(string configPath)
    {
        if (!File.Exists(configPath))
            throw new ModelFormatException($"model config '{configPath}' does not exist; a model folder needs config.json");
        return FromHfJson(File.ReadAllText(configPath), configPath);
    }

    /// <summary>Writes a config.json that transformers 5 and older versions both read.</summary>
    public string ToHfJson()
    {
        string arch = ModelType switch { "llama" => "LlamaForCausalLM", "qwen2" => "Qwen2ForCausalLM", _ => "Qwen3ForCausalLM" };
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(arch),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["num_key_value_heads"] = NumKvHeads,
            ["head_dim"] = HeadDim,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_parameters"] = RopeParameters(),
            ["rope_scaling"] = RopeScaling is null ? null : RopeParameters(),
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = ModelType == "qwen2" ? true : QkvBias,
            ["mlp_bias"] = MlpBias,
            ["hidden_act"] = "silu",
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["torch_dtype"] = "float32",
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private JsonObject RopeParameters()
    {
        var node = new JsonObject { ["rope_theta"] = RopeTheta, ["rope_type"] = RopeScaling is null ? "default" : "llama3" };
        if (RopeScaling is { } r)
        {
            node["factor"] = r.Factor;
            node["low_freq_factor"] = r.LowFreqFactor;
            node["high_freq_factor"] = r.HighFreqFactor;
            node["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings;
        }
        return node;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{ModelType} d={HiddenSize} L={NumLayers} H={NumHeads}/{NumKvHeads} hd={HeadDim} ff={IntermediateSize} V={VocabSize} ctx={MaxPositionEmbeddings}");
}

/// <summary>Llama 3.1+ rope scaling (transformers' "llama3" rope type): long wavelengths are slowed
/// by <c>Factor</c>, short ones kept, the band between interpolated.</summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

/// <summary>A model folder or file that cannot be used; the message names the file, the field or
/// tensor, and what to do.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message) : base(message) { }
    public ModelFormatException(string message, Exception inner) : base(message, inner) { }
    public ModelFormatException() { }
}
