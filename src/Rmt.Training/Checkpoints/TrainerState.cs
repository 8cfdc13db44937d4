using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rmt.Training.Checkpoints;

/// <summary>Where a training run stands, saved as trainer_state.json in every checkpoint. Enough,
/// with the weights and optimizer file, to continue exactly as if never stopped.</summary>
public sealed record TrainerState(
    int Step,                                   // optimizer steps completed
    long DataPosition,                          // micro-batches consumed (batch k is a function of k)
    long TokensSeen,                            // training tokens consumed
    string Trainer = "ntp",                     // which trainer wrote the checkpoint
    string? TorchRngState = null,               // base64 of torch's default CPU generator state
    string? SamplerRngState = null,             // base64 of a sampler's generator state (RL trainers)
    double? LastLoss = null,                    // loss of the last step, for logs
    IReadOnlyDictionary<string, double>? Metrics = null, // trainer-specific numbers (budget, reward, ...)
    int SchemaVersion = TrainerState.CurrentSchema)
{
    public const int CurrentSchema = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainerState FromJson(string json, string source)
    {
        TrainerState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source} is not a valid trainer state: {e.Message}", e);
        }
        if (state is null) throw new FormatException($"{source} is empty");
        if (state.SchemaVersion != CurrentSchema)
            throw new FormatException($"{source} has schema version {state.SchemaVersion}; this build reads {CurrentSchema}");
        return state;
    }
}
