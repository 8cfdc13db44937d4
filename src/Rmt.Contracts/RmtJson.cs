using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Rmt.Contracts;

/// <summary>The one JSON dialect of RMT: camelCase, source-generated, strict. Unknown fields and
/// missing required fields fail with a message naming the field and the document.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    AllowTrailingCommas = false,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    WriteIndented = false)]
[JsonSerializable(typeof(PipelineRequest))]
[JsonSerializable(typeof(StageJob))]
[JsonSerializable(typeof(StageEvent))]
[JsonSerializable(typeof(CheckpointManifest))]
[JsonSerializable(typeof(RunManifest))]
[JsonSerializable(typeof(PretrainConfig))]
[JsonSerializable(typeof(MidTrainConfig))]
[JsonSerializable(typeof(PostTrainConfig))]
[JsonSerializable(typeof(EvalConfig))]
[JsonSerializable(typeof(StageResult))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class RmtJsonContext : JsonSerializerContext;

public static class RmtJson
{
    private static readonly RmtJsonContext Indented = new(new JsonSerializerOptions(RmtJsonContext.Default.Options) { WriteIndented = true });

    public static string Serialize<T>(T value, bool indented = false) =>
        JsonSerializer.Serialize(value, Info<T>(indented ? Indented : RmtJsonContext.Default));

    /// <summary>Parses a document of type T. <paramref name="document"/> names it in errors
    /// ("stage job message 42", "checkpoints/r1/mid-train/step-10/manifest.json").</summary>
    public static T Parse<T>(string json, string document)
    {
        if (string.IsNullOrWhiteSpace(json))
            throw new ContractException($"{document}: the document is empty; expected a JSON {typeof(T).Name}");
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(json, Info<T>(RmtJsonContext.Default));
        }
        catch (JsonException e)
        {
            throw new ContractException($"{document}: {Explain(e)}", e);
        }
        catch (ContractException e)
        {
            throw new ContractException($"{document}: {e.Message}", e);
        }
        if (value is null)
            throw new ContractException($"{document}: the document is 'null'; expected a JSON {typeof(T).Name}");
        return value;
    }

    /// <summary>The top-level fields whose JSON values differ between two documents of RMT's dialect
    /// (written by <see cref="Serialize"/>), in name order: what a resubmitted request or a resumed job
    /// changed. Formatting does not count.</summary>
    public static IReadOnlyList<string> DifferingFields(string a, string b)
    {
        var left = System.Text.Json.Nodes.JsonNode.Parse(a)!.AsObject();
        var right = System.Text.Json.Nodes.JsonNode.Parse(b)!.AsObject();
        return [.. left.Select(p => p.Key).Union(right.Select(p => p.Key))
            .Where(key => !System.Text.Json.Nodes.JsonNode.DeepEquals(left[key], right[key]))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>Parses and validates a message or artifact that has a Validate() method.</summary>
    public static StageJob ParseJob(string json, string document) => Validated(Parse<StageJob>(json, document), j => j.Validate(), document);
    public static StageEvent ParseEvent(string json, string document) => Validated(Parse<StageEvent>(json, document), e => e.Validate(), document);
    public static PipelineRequest ParseRequest(string json, string document) => Validated(Parse<PipelineRequest>(json, document), r => r.Validate(), document);
    public static CheckpointManifest ParseManifest(string json, string document) => Validated(Parse<CheckpointManifest>(json, document), m => m.Validate(), document);

    private static T Validated<T>(T value, Action<T> validate, string document)
    {
        try
        {
            validate(value);
        }
        catch (ContractException e)
        {
            throw new ContractException($"{document}: {e.Message}", e);
        }
        return value;
    }

    private static JsonTypeInfo<T> Info<T>(RmtJsonContext context) =>
        context.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new InvalidOperationException($"{typeof(T).Name} is not registered in {nameof(RmtJsonContext)}; add [JsonSerializable(typeof({typeof(T).Name}))]");

    /// <summary>System.Text.Json's messages name the .NET type; ours name the JSON field and the fix.</summary>
    private static string Explain(JsonException e)
    {
        var path = string.IsNullOrEmpty(e.Path) ? "$" : e.Path;
        var message = e.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            var start = message.IndexOf('\'', StringComparison.Ordinal);
            var end = start >= 0 ? message.IndexOf('\'', start + 1) : -1;
            var field = end > start ? message[(start + 1)..end] : path;
            return $"unknown field '{field}' at {path}; remove it or check its spelling";
        }
        if (message.Contains("missing required properties", StringComparison.Ordinal))
        {
            var start = message.IndexOf("including: ", StringComparison.Ordinal);
            var fields = start >= 0 ? message[(start + "including: ".Length)..].TrimEnd('.') : "?";
            return $"missing required field {fields} at {path}; add it";
        }
        if (message.StartsWith("unknown stage kind", StringComparison.Ordinal))
            return $"{FirstSentence(message)} (at {path})";
        if (message.Contains("could not be converted to", StringComparison.Ordinal))
            return $"the value at {path} has the wrong type or an unknown name ({FirstSentence(message)})";
        return $"malformed JSON at {path} (line {e.LineNumber + 1}): {FirstSentence(message)}";
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message;
    }
}
