using System.Text.Json;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>What can still be read from a job message that did not parse or validate: enough to
/// tell the run's orchestration that its stage will not run.</summary>
public sealed record MalformedJob(string RunId, string Stage, int Attempt)
{
    /// <summary>Stage id used when the message names no valid one.</summary>
    public const string UnknownStage = "unknown-stage";

    /// <summary>The run id, stage and attempt of <paramref name="body"/> when at least the run id is a
    /// valid id; null when not even that can be recovered.</summary>
    public static MalformedJob? TryRecover(string? body)
    {
        if (string.IsNullOrWhiteSpace(body)) return null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object) return null;
            var root = document.RootElement;
            var runId = StringField(root, "runId");
            if (!Validation.IsId(runId)) return null;
            var stage = StringField(root, "stage");
            var attempt = root.TryGetProperty("attempt", out var a) && a.ValueKind == JsonValueKind.Number
                          && a.TryGetInt32(out var n) && n is >= 1 and <= 1000
                ? n
                : 1;
            return new MalformedJob(runId!, Validation.IsId(stage) ? stage! : UnknownStage, attempt);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? StringField(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
