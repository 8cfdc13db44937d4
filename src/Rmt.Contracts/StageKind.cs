using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rmt.Contracts;

/// <summary>What a stage job runs. The JSON names are the ones users type.</summary>
[JsonConverter(typeof(StageKindConverter))]
public enum StageKind
{
    /// <summary>Next-token pretraining of a model (from scratch or continued).</summary>
    [JsonStringEnumMemberName("pretrain")] Pretrain,

    /// <summary>Reinforcement mid-training (RMT) or one of its baselines.</summary>
    [JsonStringEnumMemberName("mid-train")] MidTrain,

    /// <summary>Math post-training with verifiable rewards (GRPO).</summary>
    [JsonStringEnumMemberName("post-train")] PostTrain,

    /// <summary>Evaluation of a checkpoint (next-token reasoning accuracy or math accuracy).</summary>
    [JsonStringEnumMemberName("eval")] Eval,
}

public static class StageKinds
{
    /// <summary>The JSON names, for error messages that list the valid values.</summary>
    public static readonly IReadOnlyList<string> Names = ["pretrain", "mid-train", "post-train", "eval"];

    public static string ToName(this StageKind kind) => Names[(int)kind];

    public static StageKind Parse(string name)
    {
        var index = Names.ToList().IndexOf(name);
        return index >= 0
            ? (StageKind)index
            : throw new ContractException($"unknown stage kind '{name}'; valid kinds are {string.Join(", ", Names)}");
    }
}

/// <summary>Reads and writes stage kinds by their JSON names; an unknown name lists the valid ones.</summary>
public sealed class StageKindConverter : JsonConverter<StageKind>
{
    public override StageKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        var index = name is null ? -1 : StageKinds.Names.ToList().IndexOf(name);
        return index >= 0
            ? (StageKind)index
            : throw new JsonException($"unknown stage kind '{name ?? reader.TokenType.ToString()}'; valid kinds are {string.Join(", ", StageKinds.Names)}");
    }

    public override void Write(Utf8JsonWriter writer, StageKind value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToName());
}
