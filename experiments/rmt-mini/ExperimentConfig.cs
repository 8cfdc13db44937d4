using System.Text.Json;
using System.Text.Json.Serialization;

namespace RmtMini;

/// <summary>Everything the miniature varies; configs/*.json hold the named settings. Every method
/// gets the same RL steps, batch and group size (equal compute); NTP continued training sees
/// batch x G windows per step.</summary>
public sealed record ExperimentConfig(
    string Name = "full",
    int Seed = 7,
    int Threads = 2,                       // torch CPU threads
    string ModelPreset = "tiny",           // d=128, 4 layers, context 256
    int PretrainSteps = 1500,
    int PretrainBatch = 32,
    int PretrainSequence = 128,
    double PretrainLearningRate = 2e-3,
    int PretrainPlainTokens = 1_200_000,   // arithmetic + Shakespeare text
    int PretrainTraces = 10_000,           // worked <think> examples mixed in
    double ArithmeticShare = 0.5,          // share of documents that are arithmetic
    int MidTrainTokens = 200_000,          // RL corpus (fresh text)
    int HeldOutTokens = 60_000,            // evaluation text (held-out Shakespeare, fresh sums)
    int RlSteps = 150,
    int RlBatch = 8,                       // key positions per step
    int GroupSize = 8,
    double RlLearningRate = 1e-3,
    int ContextTokens = 64,
    int MaxReasoningTokens = 128,          // cap equal for every method
    int BudgetInitial = 96,                // B_0 covers the verbose traces (~80 tokens)
    int BudgetMinimum = 16,                // B_min: the concise trace is ~20 tokens
    double BudgetGamma = 0.2,              // paper
    bool LengthOnlyIfCorrect = false,      // RewardConfig.LengthOnlyIfCorrect for every method with a budget
    double KlWeight = 0.0,                 // GrpoConfig.KlWeight for every RL method but RPT (its paper ran without KL)
    int EvalPositionsPerTier = 150,
    int ProgressEvery = 10,
    string[]? Methods = null,              // default: every preset
    int Operands = 2,                      // numbers per arithmetic sentence (2 or 3); 3 makes the sums hard enough that a trace is only partly right
    string KeyPositions = "entropy",       // "entropy": every position, tiered by entropy (RPT/RMT); "results": only sum digits, where reasoning can help
    int Seeds = 1,                         // RL seeds of RMT and RPT (key positions, sampling); the base model is shared
    int AblationSeeds = 1,                 // RL seeds of the ablations and NTP continued
    double[]? LearningRates = null,        // RL learning rates to sweep with RMT on the validation split; the best is used by every method (default: rlLearningRate)
    int ValidationTokens = 30_000)         // validation text (fresh sums and Shakespeare from the training part) for the sweep
{
    public const string EntropyKeys = "entropy";
    public const string ResultKeys = "results";

    [JsonIgnore] // derived, not a setting: the printed config must load back under UnmappedMemberHandling.Disallow
    public double[] SweptLearningRates => LearningRates is { Length: > 0 } rates ? rates : [RlLearningRate];

    public void Validate()
    {
        if (Operands is < 2 or > 3) throw new InvalidDataException($"operands is {Operands}; use 2 or 3");
        if (KeyPositions is not (EntropyKeys or ResultKeys)) throw new InvalidDataException($"keyPositions is '{KeyPositions}'; use '{EntropyKeys}' or '{ResultKeys}'");
        if (Seeds < 1 || AblationSeeds < 1) throw new InvalidDataException("seeds and ablationSeeds must be at least 1");
        if (SweptLearningRates.Any(lr => lr <= 0)) throw new InvalidDataException("learningRates must be positive");
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    public static ExperimentConfig Load(string path)
    {
        var config = JsonSerializer.Deserialize<ExperimentConfig>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path}: empty experiment config");
        config.Validate();
        return config;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
