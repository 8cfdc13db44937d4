using System.Text.Json;
using System.Text.Json.Serialization;
using Rmt.Contracts;

namespace Rmt.Pipeline.Http;

/// <summary>What a handler answers: status code, JSON body and headers. The Functions wrappers and the
/// local host copy it onto their HTTP response as is.</summary>
public sealed record HandlerResult(int StatusCode, string? Json, string ContentType, IReadOnlyDictionary<string, string> Headers)
{
    public const string JsonContentType = "application/json";
    public const string ProblemContentType = "application/problem+json";

    internal static HandlerResult Ok<T>(int status, T body, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, PipelineApiJson.Serialize(body), JsonContentType, headers ?? new Dictionary<string, string>());

    public static HandlerResult Problem(int status, string title, string detail, string? field = null, string? instance = null) =>
        new(status, PipelineApiJson.Serialize(new ProblemDetails(ProblemDetails.TypeFor(status), title, status, detail, field, instance)),
            ProblemContentType, new Dictionary<string, string>());
}

/// <summary>RFC 9457 problem details; <see cref="Field"/> names the offending request field when known.</summary>
public sealed record ProblemDetails(string Type, string Title, int Status, string Detail, string? Field = null, string? Instance = null)
{
    public static string TypeFor(int status) => status switch
    {
        400 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1",
        404 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5",
        409 => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.10",
        _ => "about:blank",
    };
}

/// <summary>202 body of a submitted run.</summary>
public sealed record SubmitAccepted(string Id, string RunId, string StatusUri, string CancelUri, string ReportPath, string? TraceParent);

/// <summary>Where a run's artifacts live (blob paths "container/name").</summary>
public sealed record PipelineArtifacts(string Request, string Events, string Report, string Manifest, string Checkpoints)
{
    public static PipelineArtifacts Of(string runId) => new(
        BlobLayout.RunRequest(runId), BlobLayout.RunEvents(runId), BlobLayout.RunReport(runId), BlobLayout.RunManifest(runId),
        $"{BlobLayout.CheckpointsContainer}/{runId}/");
}

/// <summary>GET /api/pipelines/{id}. Status is the user's view: pending, running, completed, failed,
/// cancelled, terminated, suspended; RuntimeStatus is the durable backend's.</summary>
public sealed record PipelineStatusView(
    string Id,
    string Status,
    string RuntimeStatus,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastUpdatedAt,
    string? Stage,
    int Attempt,
    StageProgress? Progress,
    CheckpointRef? LatestCheckpoint,
    string? Message,
    PipelineArtifacts Artifacts,
    PipelineOutput? Output = null,
    string? Failure = null);

public sealed record PipelineList(IReadOnlyList<PipelineStatusView> Items, string? ContinuationToken);

public sealed record CancelAccepted(string Id, string Status, string Reason);

/// <summary>What the scheduled (timer) submission did.</summary>
public sealed record ScheduledSubmission(bool Started, string? RunId, string? SkippedBecause);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(SubmitAccepted))]
[JsonSerializable(typeof(PipelineStatusView))]
[JsonSerializable(typeof(PipelineList))]
[JsonSerializable(typeof(CancelAccepted))]
[JsonSerializable(typeof(ScheduledSubmission))]
internal sealed partial class PipelineApiJsonContext : JsonSerializerContext;

/// <summary>JSON of the HTTP API bodies (camelCase, like the contracts).</summary>
public static class PipelineApiJson
{
    public static string Serialize<T>(T value) =>
        JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)PipelineApiJsonContext.Default.GetTypeInfo(typeof(T))!);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize(json, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)PipelineApiJsonContext.Default.GetTypeInfo(typeof(T))!)!;
}
