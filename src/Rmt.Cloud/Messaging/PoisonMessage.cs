using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rmt.Cloud;

/// <summary>What "{queue}-poison" holds: the original body untouched, and why it was moved.
/// Storage queue messages have no properties, so the reason travels in this envelope.</summary>
public sealed record PoisonMessage(
    string Queue,
    string MessageId,
    long DequeueCount,
    string Reason,
    DateTimeOffset MovedAt,
    string Body)
{
    public string ToJson() => JsonSerializer.Serialize(this, CloudJsonContext.Default.PoisonMessage);

    public static PoisonMessage Parse(string json) =>
        JsonSerializer.Deserialize(json, CloudJsonContext.Default.PoisonMessage)
        ?? throw new JsonException("poison message is 'null'");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(PoisonMessage))]
internal sealed partial class CloudJsonContext : JsonSerializerContext;
