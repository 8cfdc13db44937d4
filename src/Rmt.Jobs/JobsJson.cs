using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>runs/{runId}/{stage}/claims/attempt-{n}.json: who took this attempt, so that a second
/// claimant can say whom it backed off for.</summary>
public sealed record ClaimRecord(
    string RunId,
    string Stage,
    int Attempt,
    string Host,
    int ProcessId,
    DateTimeOffset ClaimedAt,
    string MessageId);

/// <summary>One line of runs/{runId}/{stage}/metrics.jsonl: a step's <see cref="StageProgress"/> (the
/// one record of a step's metrics, also in 'progress' events), which attempt wrote it and when.</summary>
public sealed record MetricsLine(int Attempt, DateTimeOffset Time, StageProgress Progress)
{
    [JsonIgnore]
    public long Step => Progress.Step;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ClaimRecord))]
[JsonSerializable(typeof(MetricsLine))]
[JsonSerializable(typeof(DeliveryLine))]
internal sealed partial class JobsJsonContext : JsonSerializerContext;

/// <summary>JSON of the job's own records (claims, metrics lines).</summary>
public static class JobsJson
{
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Info<T>());

    /// <summary>The record, or null when <paramref name="json"/> is not one (the caller says what it expected).</summary>
    public static T? TryParse<T>(string? json) where T : class
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try
        {
            return JsonSerializer.Deserialize(json, Info<T>());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonTypeInfo<T> Info<T>() =>
        JobsJsonContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new InvalidOperationException($"{typeof(T).Name} is not registered in {nameof(JobsJsonContext)}");
}
