using System.Text.Json;
using System.Text.Json.Nodes;
using Rmt.Contracts;
using Rmt.Training.PostTraining;

namespace RmtMiniPost;

/// <summary>The post-training experiment: which problems, how many, and the one PostTrainConfig
/// every starting checkpoint gets (same budget for all).</summary>
public sealed record PostExperimentConfig(
    string Name,
    ArithmeticDifficulty Problems,   // two-digit sums: the skill the rmt-mini corpus trains
    int TrainProblems,
    int HeldOutProblems,
    int Seed,
    int Threads,
    IReadOnlyList<string> Checkpoints,  // "base" or an rmt-mini preset name (runs/{preset}/step-N, newest)
    PostTrainConfig PostTrain)
{
    /// <summary>Reads the JSON file; "postTrain" is parsed strictly by the contracts' RmtJson.</summary>
    public static PostExperimentConfig Load(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new ContractException($"{path}: not a JSON object");
        string Str(string key) => root[key]?.GetValue<string>() ?? throw new ContractException($"{path}: '{key}' is missing");
        int Int(string key) => root[key]?.GetValue<int>() ?? throw new ContractException($"{path}: '{key}' is missing");
        var problems = root["problems"]?.AsObject() ?? throw new ContractException($"{path}: 'problems' is missing");
        var difficulty = new ArithmeticDifficulty(
            problems["operations"]?.GetValue<int>() ?? 1,
            problems["digits"]?.GetValue<int>() ?? 2,
            problems["operators"]?.GetValue<string>() ?? "+",
            Enum.Parse<ArithmeticStyle>(problems["style"]?.GetValue<string>() ?? "Words", ignoreCase: true));
        difficulty.Validate();
        var postTrain = RmtJson.Parse<PostTrainConfig>(root["postTrain"]?.ToJsonString() ?? "", $"{path} postTrain");
        postTrain.Validate();
        var checkpoints = root["checkpoints"]?.AsArray().Select(n => n!.GetValue<string>()).ToList()
                          ?? ["base", "ntp-continued", "rpt", "rmt"];
        return new PostExperimentConfig(Str("name"), difficulty, Int("trainProblems"), Int("heldOutProblems"), Int("seed"),
            root["threads"]?.GetValue<int>() ?? 1, checkpoints, postTrain);
    }

    public string ToJson() => JsonSerializer.Serialize(new { Name, Problems, TrainProblems, HeldOutProblems, Seed, Threads, Checkpoints }) +
                              " postTrain " + RmtJson.Serialize(PostTrain);
}
