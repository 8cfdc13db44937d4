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
    IReadOnlyList<string> Checkpoints,  // "base" or an rmt-mini preset name (its seed-0 checkpoint, from the work folder's checkpoints.json)
    PostTrainConfig PostTrain,
    int MiniOperands = 0,               // > 0: problems are rmt-mini's own sentences with this many operands, solved with its column steps (the format mid-training taught); 0: the generator's problems
    int Seeds = 1)                      // post-training seeds per checkpoint
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
            Enum.Parse<ArithmeticStyle>(problems["style"]?.GetValue<string>() ?? "Words", ignoreCase: true),
            problems["columnTrace"]?.GetValue<bool>() ?? false);
        difficulty.Validate();
        var postTrain = RmtJson.Parse<PostTrainConfig>(root["postTrain"]?.ToJsonString() ?? "", $"{path} postTrain");
        postTrain.Validate();
        var checkpoints = root["checkpoints"]?.AsArray().Select(n => n!.GetValue<string>()).ToList()
                          ?? ["base", "ntp-continued", "rpt", "rmt"];
        int miniOperands = root["miniOperands"]?.GetValue<int>() ?? 0;
        if (miniOperands is not (0 or 2 or 3)) throw new ContractException($"{path}: 'miniOperands' is {miniOperands}; use 0 (generator problems), 2 or 3");
        int seeds = root["seeds"]?.GetValue<int>() ?? 1;
        if (seeds < 1) throw new ContractException($"{path}: 'seeds' is {seeds}; use at least 1");
        return new PostExperimentConfig(Str("name"), difficulty, Int("trainProblems"), Int("heldOutProblems"), Int("seed"),
            root["threads"]?.GetValue<int>() ?? 1, checkpoints, postTrain, miniOperands, seeds);
    }

    public string ToJson() => JsonSerializer.Serialize(new { Name, Problems, MiniOperands, TrainProblems, HeldOutProblems, Seed, Seeds, Threads, Checkpoints }) +
                              " postTrain " + RmtJson.Serialize(PostTrain);
}
